"""Properties of upload validation: a normalized result or a clear 400, nothing else.

`validate_operation` (media) checks an operation and its params wherever they
come from; `UploadForm` (web) collects them from form fields. For any input
each gives back normalized params, or raises InvalidOperation or a 400
ApiError (both answered as JSON 400s); any other exception would be a 500.
"""

import json
import math

from hypothesis import example, given
from hypothesis import strategies as st

from media import OPERATIONS, InvalidOperation, UnsupportedMedia, validate_operation
from media.catalog import BOOLEAN, INTEGER, NUMBER, STRING, Param
from media.formats import KINDS, SUPPORTED_TYPES, media_kind
from tests.property.strategies import (
    RAW_PARAM_VALUES,
    bounded,
    operation_names,
    param_names,
)
from web.errors import ApiError
from web.filenames import MAX_FILENAME_CHARS, display_name
from web.upload_form import (
    OPERATION_ALIAS,
    OPERATION_FIELD,
    PARAMS_FIELD,
    SCHEDULE_FIELD,
    UploadForm,
    parse_flag,
    parse_params,
)

KIND_NAMES = st.one_of(st.sampled_from(KINDS), st.text(max_size=8))
RAW_PARAMS = st.dictionaries(param_names(), RAW_PARAM_VALUES, max_size=4)


def assert_normalized(kind: str, name: str, values: dict) -> None:
    """Every catalog parameter present, of its type, within its limits."""
    operation = OPERATIONS[kind][name]
    assert set(values) == {param.name for param in operation.params}
    for param in operation.params:
        value = values[param.name]
        if value is None:
            assert param.default is None, param.name
            continue
        assert_valid_value(param, value)


def assert_valid_value(param: Param, value: object) -> None:
    """One value fits its parameter's type, range and choices."""
    if param.type == BOOLEAN:
        assert isinstance(value, bool)
        return
    if param.type == STRING:
        assert value in param.choices
        return
    assert not isinstance(value, bool)
    assert isinstance(value, int if param.type == INTEGER else (int, float))
    assert math.isfinite(value)
    if param.min is not None:
        assert value > param.min if param.exclusive_min else value >= param.min
    if param.max is not None:
        assert value <= param.max


@given(KIND_NAMES, operation_names(), RAW_PARAMS)
@example("image", "resize", {"width": 10**5000})
@example("image", "resize", {"width": [[[]]]})
@example("video", "thumbnail", {"columns": "16", "tile_width": "1024"})
@bounded(600)
def test_validate_operation_normalizes_or_raises_invalid_operation(kind, name, raw):
    try:
        values = validate_operation(kind, name, raw)
    except InvalidOperation as error:
        assert str(error) and len(str(error)) < 600
        assert isinstance(error.field, str) and len(error.field) <= 40
        return

    assert_normalized(kind, name, values)
    # Normalized params are a fixed point: the node re-validates what it gets.
    assert validate_operation(kind, name, values) == values


def single_params() -> st.SearchStrategy[tuple[str, str, Param, object]]:
    """(kind, operation, param, a valid value) for parameters valid on their own."""
    choices = [
        (kind, name, param)
        for kind, operations in OPERATIONS.items()
        for name, operation in operations.items()
        if name != "resize"  # resize needs a way of sizing: tested with its rule
        for param in operation.params
    ]
    return st.sampled_from(choices).flatmap(
        lambda choice: valid_values(choice[2]).map(lambda value: (*choice, value))
    )


def valid_values(param: Param) -> st.SearchStrategy[object]:
    """Values inside a parameter's limits."""
    if param.type == BOOLEAN:
        return st.booleans()
    if param.type == STRING:
        return st.sampled_from(param.choices)
    low = param.min if param.min is not None else -1000
    high = param.max if param.max is not None else 1000
    if param.type == INTEGER:
        return st.integers(min_value=math.ceil(low), max_value=math.floor(high))
    assert param.type == NUMBER
    return st.floats(
        min_value=low, max_value=high, exclude_min=param.exclusive_min
    ).map(lambda number: round(number, 6) or high)


@given(single_params())
@bounded(300)
def test_a_form_string_means_the_same_as_its_typed_value(case):
    kind, name, param, value = case
    text = str(value).lower() if isinstance(value, bool) else str(value)
    try:
        typed = validate_operation(kind, name, {param.name: value})
    except InvalidOperation as error:
        # Only a cross-field rule may refuse a valid single value.
        assert (kind, name) == ("video", "thumbnail"), error
        return

    assert validate_operation(kind, name, {param.name: text}) == typed
    assert_valid_value(param, typed[param.name])


FORM_FIELD_NAMES = st.one_of(
    st.sampled_from([OPERATION_FIELD, OPERATION_ALIAS, PARAMS_FIELD, SCHEDULE_FIELD]),
    param_names(),
)
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(),
        st.text(max_size=15),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=8), inner, max_size=3),
    ),
    max_leaves=10,
)
FIELD_VALUES = st.one_of(
    operation_names(),
    st.text(max_size=40),
    st.from_regex(r"-?\d{1,5}(\.\d{1,2})?", fullmatch=True),
    st.dictionaries(param_names(), JSON_VALUES, max_size=3).map(json.dumps),
    JSON_VALUES.map(json.dumps),
)


def refused_cleanly(error: Exception) -> bool:
    """A refusal the web service answers with a JSON 400."""
    if isinstance(error, ApiError):
        return error.status == 400 and bool(error.message)
    return isinstance(error, InvalidOperation)


# The kind comes from media_kind, so it is always a real one here.
@given(
    st.lists(st.tuples(FORM_FIELD_NAMES, FIELD_VALUES), max_size=8),
    st.sampled_from(KINDS),
)
@example([(PARAMS_FIELD, "[" * 20_000)], "image")
@example([(OPERATION_FIELD, "blur"), (PARAMS_FIELD, '{"radius": 1e999}')], "image")
@bounded(600)
def test_upload_form_fields_give_params_or_a_clear_400(fields, kind):
    form = UploadForm()
    try:
        for name, value in fields:
            form.add(name, value)
        form.check_kind(kind)
        params = form.params_for(kind)
    except Exception as error:
        assert refused_cleanly(error), repr(error)
        return

    assert form.operation_name is not None
    assert_normalized(kind, form.operation_name, params)


@given(st.text(max_size=200))
@example("[" * 70_000)
@example('{"a":' * 5_000)
@bounded(300)
def test_the_params_field_is_a_json_object_or_a_400(raw):
    try:
        value = parse_params(raw)
    except ApiError as error:
        assert error.status == 400 and error.field == PARAMS_FIELD
        return
    assert isinstance(value, dict)


@given(st.text(max_size=20))
@bounded(200)
def test_the_schedule_flag_is_yes_no_or_a_400(raw):
    try:
        assert isinstance(parse_flag(SCHEDULE_FIELD, raw), bool)
    except ApiError as error:
        assert error.status == 400 and error.field == SCHEDULE_FIELD


@given(st.text(), st.one_of(st.none(), st.text(max_size=40)))
@bounded(300)
def test_any_filename_and_type_is_classified_or_unsupported(filename, content_type):
    try:
        kind, normalized = media_kind(filename, content_type)
    except UnsupportedMedia as error:
        assert error.supported == list(SUPPORTED_TYPES)
        return
    assert normalized in SUPPORTED_TYPES
    assert kind == SUPPORTED_TYPES[normalized]


@given(st.one_of(st.none(), st.text()))
@bounded(300)
def test_a_shown_filename_is_never_empty_long_or_controlling(raw):
    shown = display_name(raw)

    assert 0 < len(shown) <= MAX_FILENAME_CHARS
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in shown)
