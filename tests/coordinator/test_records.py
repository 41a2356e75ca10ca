"""Record changes from events are safe in any order and never go backwards."""

import itertools

import pytest

from bus.schemas import TaskEvent, TaskRecord
from coordinator.records import from_event, placed
from policy.types import Placement
from tests.factories import task_record


def scheduled_record() -> TaskRecord:
    return task_record(status="scheduled", scheduled_at=100.0)


def event(kind: str, attempt: int = 1, **fields) -> TaskEvent:
    return TaskEvent(
        kind=kind,
        task_id="t",
        attempt=attempt,
        node_id="e1",
        tier="edge",
        at=0.0,
        **fields,
    )


PLACEMENT = Placement("t", "edge", "e1", 0.5, 0.1, "test")


@pytest.mark.parametrize(
    "order",
    list(
        itertools.permutations(
            [
                event("started", started_at=101.0),
                event("progress", progress=0.5),
                event(
                    "completed",
                    started_at=101.0,
                    completed_at=103.0,
                    fetch_ms=1.0,
                    compute_ms=5.0,
                    store_ms=2.0,
                    output_name="a-grayscale.png",
                    output_size=9,
                    output_type="image/png",
                ),
            ]
        )
    ),
)
def test_any_event_order_ends_completed_with_durations(order):
    record = scheduled_record()
    placed(PLACEMENT, 1, 100.0, {"policy": "earliest-finish"})(record)
    for item in order:
        from_event(item)(record)

    assert record.status == "completed"
    assert record.total_ms == pytest.approx(3000.0)
    assert record.queue_wait_ms == pytest.approx(1000.0)
    assert record.transfer_ms == pytest.approx(3.0)
    assert record.output_name == "a-grayscale.png"


def test_a_final_state_is_never_left_and_stale_attempts_are_ignored():
    record = scheduled_record()
    placed(PLACEMENT, 2, 100.0, {})(record)

    assert not from_event(event("failed", attempt=1, error="old"))(record)
    assert from_event(event("failed", attempt=2, error="bad file"))(record)
    assert not from_event(event("completed", attempt=2, completed_at=5.0))(record)
    assert not placed(PLACEMENT, 3, 100.0, {})(record)
    assert record.status == "failed"
    assert record.error == "bad file"


def test_a_repeated_placement_of_the_same_attempt_changes_nothing():
    record = scheduled_record()
    assert placed(PLACEMENT, 1, 100.0, {})(record)
    assert not placed(PLACEMENT, 1, 100.0, {})(record)
    assert record.attempts == 1


def test_a_completion_records_which_run_s_result_counts_and_clears_the_error():
    record = scheduled_record()
    placed(PLACEMENT, 1, 100.0, {"policy": "greedy"})(record)
    from_event(event("retrying", error="e1: TimeoutError: bus slow"))(record)
    assert record.status == "placed"
    assert record.error == "e1: TimeoutError: bus slow"

    from_event(event("completed", completed_at=103.0, output_object="t/output/1-2"))(
        record
    )
    # A second run of the same attempt reporting late is ignored.
    assert not from_event(
        event("completed", completed_at=104.0, output_object="t/output/1-1")
    )(record)

    assert record.status == "completed"
    assert record.error is None
    assert record.output_object == "t/output/1-2"


def test_a_node_s_give_up_makes_the_task_a_dead_letter():
    record = scheduled_record()
    placed(PLACEMENT, 1, 100.0, {"policy": "greedy"})(record)
    give_up = event(
        "failed",
        error="gave up after 3 tries of attempt 1: e1: TimeoutError: x",
        dead_letter={"cause": "deliveries", "tries": 3, "attempt": 1},
    )

    assert from_event(give_up)(record)

    assert record.status == "failed"
    assert record.error.startswith("gave up after 3 tries")
    assert record.dead_letter == {
        "cause": "deliveries",
        "tries": 3,
        "attempt": 1,
        "node_id": "e1",
        "at": 0.0,
    }


def test_a_retrying_event_of_an_older_attempt_changes_nothing():
    record = scheduled_record()
    placed(PLACEMENT, 2, 100.0, {"policy": "greedy"})(record)

    assert not from_event(event("retrying", attempt=1, error="old trouble"))(record)
    assert record.error is None
