"""Properties of the bus codecs: records round-trip; anything else is refused cleanly.

Whatever bytes arrive on a subject, `decode` gives a well-typed object or
raises MalformedMessage (which consumers log and terminate); any other
exception would escape a consumer's error handling.
"""

import dataclasses
import typing

import msgpack
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bus.codec import pack, unpack
from bus.errors import MalformedMessage
from bus.schemas import (
    SCHEMA_VERSION,
    Job,
    NodeStatus,
    ScheduledTask,
    TaskEvent,
    TaskRecord,
    Wire,
)
from tests.property.strategies import (
    INT64,
    MSGPACK_VALUES,
    PLAIN_VALUES,
    bounded,
    for_hint,
)

WIRE_CLASSES = [TaskRecord, ScheduledTask, Job, TaskEvent, NodeStatus]


def records(cls: type[Wire]) -> st.SearchStrategy[Wire]:
    """Valid instances: every field a value of its declared type, v current."""
    hints = typing.get_type_hints(cls)
    fields = {
        item.name: for_hint(hints[item.name])
        for item in dataclasses.fields(cls)
        if item.name != "v"
    }
    return st.builds(cls, **fields)


def assert_well_typed(obj: Wire) -> None:
    """Every field of a decoded object holds a value its type hint allows."""
    hints = typing.get_type_hints(type(obj))
    for item in dataclasses.fields(obj):
        value = getattr(obj, item.name)
        allowed = _runtime_types(hints[item.name])
        assert isinstance(value, allowed), (item.name, value)
        if isinstance(value, bool):
            assert bool in allowed, (item.name, value)


def _runtime_types(hint) -> tuple[type, ...]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is dict:
        return (dict,)
    if args:
        return tuple(t for arg in args for t in _runtime_types(arg))
    if hint is float:
        return (int, float)
    return (hint,)


def decode_or_refuse(cls: type[Wire], data: bytes) -> None:
    """Decode `data` as `cls`: a well-typed object, or MalformedMessage."""
    try:
        obj = cls.decode(data)
    except MalformedMessage as error:
        assert str(error).startswith("malformed message: ")
        return
    assert isinstance(obj, cls)
    assert obj.v <= SCHEMA_VERSION
    assert_well_typed(obj)


@pytest.mark.parametrize("cls", WIRE_CLASSES, ids=lambda cls: cls.__name__)
def test_every_valid_record_survives_a_round_trip(cls):
    @bounded(150)
    @given(records(cls))
    def check(obj: Wire) -> None:
        assert cls.decode(obj.encode()) == obj

    check()


@pytest.mark.parametrize("cls", WIRE_CLASSES, ids=lambda cls: cls.__name__)
def test_arbitrary_bytes_decode_or_raise_malformed_message(cls):
    @bounded(300)
    @given(st.binary(max_size=200))
    def check(data: bytes) -> None:
        decode_or_refuse(cls, data)

    check()


@pytest.mark.parametrize("cls", WIRE_CLASSES, ids=lambda cls: cls.__name__)
def test_arbitrary_msgpack_values_decode_or_raise_malformed_message(cls):
    @bounded(200)
    @given(MSGPACK_VALUES)
    def check(value) -> None:
        decode_or_refuse(cls, msgpack.packb(value, use_bin_type=True))

    check()


@pytest.mark.parametrize("cls", WIRE_CLASSES, ids=lambda cls: cls.__name__)
def test_a_valid_record_with_one_field_changed_decodes_or_is_refused(cls):
    # Random maps rarely get past the version and the first required field;
    # changing one field of a real record reaches every check in turn.
    @bounded(200)
    @given(records(cls), st.data())
    def check(obj: Wire, data: st.DataObject) -> None:
        wire = obj.to_wire()
        name = data.draw(st.sampled_from(sorted(wire)), label="field")
        change = data.draw(st.sampled_from(["replace", "delete"]), label="change")
        if change == "delete":
            del wire[name]
        else:
            wire[name] = data.draw(MSGPACK_VALUES, label="value")
        decode_or_refuse(cls, msgpack.packb(wire, use_bin_type=True))

    check()


@given(st.dictionaries(st.text(max_size=10), PLAIN_VALUES, max_size=6))
@bounded(200)
def test_any_string_keyed_map_round_trips_through_the_codec(payload):
    assume(payload)
    assert unpack(pack(payload)) == payload


@given(
    st.one_of(
        st.lists(MSGPACK_VALUES, max_size=3),
        st.integers(min_value=0, max_value=2**32),
        st.text(max_size=10),
        st.dictionaries(INT64, INT64, min_size=1, max_size=3),
    )
)
@bounded(200)
def test_what_is_not_a_string_keyed_map_is_malformed(value):
    with pytest.raises(MalformedMessage):
        unpack(msgpack.packb(value, use_bin_type=True))
