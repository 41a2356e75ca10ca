"""Message schemas: round trips, validation, versions."""

import msgpack
import pytest

from bus.errors import MalformedMessage
from bus.schemas import SCHEMA_VERSION, Job, ScheduledTask, TaskEvent, TaskRecord
from tests.factories import task_record


def a_record() -> TaskRecord:
    return task_record(
        id="abc",
        filename="x.png",
        size=10,
        sha256="00",
        operation="blur",
        params={"radius": 2.0},
        explanation={"policy": "earliest-finish"},
    )


def test_record_survives_a_round_trip_and_copies_are_independent():
    record = a_record()
    decoded = TaskRecord.decode(record.encode())
    copy = decoded.copy()
    copy.params["radius"] = 9

    assert decoded == record
    assert decoded.params["radius"] == 2.0


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b"", "empty"),
        (b"\xc1", "not msgpack"),
        (msgpack.packb([1, 2]), "expected a map"),
        (msgpack.packb({"task_id": "a", "scheduled_at": 1.0}), "version"),
        (msgpack.packb({"v": 1, "scheduled_at": 1.0}), "missing field 'task_id'"),
        (msgpack.packb({"v": 1, "task_id": 7, "scheduled_at": 1.0}), "wrong type"),
        (msgpack.packb({"v": 1, "task_id": "a", "scheduled_at": True}), "wrong type"),
        (
            msgpack.packb({"v": SCHEMA_VERSION + 1, "task_id": "a", "scheduled_at": 1}),
            "newer",
        ),
    ],
)
def test_malformed_payloads_raise_with_a_reason(payload, reason):
    with pytest.raises(MalformedMessage, match=reason):
        ScheduledTask.decode(payload)


def test_unknown_fields_are_ignored_and_ints_pass_for_floats():
    payload = msgpack.packb(
        {"v": 1, "task_id": "a", "scheduled_at": 5, "added_later": {"x": 1}}
    )
    assert ScheduledTask.decode(payload) == ScheduledTask("a", 5)


def test_a_job_is_not_mistaken_for_an_event():
    job = Job(
        task_id="a",
        attempt=1,
        kind="image",
        operation="grayscale",
        params={},
        input_object="a/input",
        output_object="a/output",
        filename="x.png",
        content_type="image/png",
        size=1,
        tier="cloud",
        node_id=None,
        dispatched_at=1.0,
    )
    with pytest.raises(MalformedMessage):
        TaskEvent.decode(job.encode())


def test_public_record_carries_the_prototypes_aliases():
    record = a_record()
    record.tier = "edge"
    body = record.public()

    assert body["assigned_to"] == body["computed_at"] == "edge"
    assert body["operation"] == {"name": "blur", "params": {"radius": 2.0}}
    assert "v" not in body
