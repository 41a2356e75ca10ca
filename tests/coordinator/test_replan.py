"""The re-plan change: back to scheduled once, and the old attempt is ignored."""

from bus.schemas import TaskEvent, TaskRecord
from coordinator.records import from_event, needs_placement, placed
from coordinator.replan import edge_node_of, replanned
from policy.types import Placement
from tests.factories import task_record


def placed_record(attempts: int = 1, status: str = "placed") -> TaskRecord:
    return task_record(
        status=status,
        node_id="dead",
        tier="edge",
        attempts=attempts,
        scheduled_at=100.0,
        explanation={"policy": "earliest-finish"},
    )


def event(kind: str, attempt: int, node_id: str = "dead") -> TaskEvent:
    return TaskEvent(
        kind=kind, task_id="t", attempt=attempt, node_id=node_id, tier="edge", at=1.0
    )


def test_replan_moves_the_current_attempt_back_to_scheduled():
    record = placed_record(status="running")

    assert replanned("dead", 1, 5.0)(record)

    assert record.status == "scheduled"
    assert needs_placement(record)
    assert record.attempts == 1
    assert record.explanation["replanned_from"] == "dead"


def test_replan_leaves_final_newer_and_already_replanned_tasks_alone():
    completed = placed_record(status="completed")
    newer = placed_record(attempts=2)
    again = placed_record()
    replanned("dead", 1, 5.0)(again)

    assert not replanned("dead", 1, 5.0)(completed)
    assert not replanned("dead", 1, 5.0)(newer)
    assert not replanned("dead", 1, 5.0)(again)
    assert completed.status == "completed" and newer.status == "placed"


def test_events_of_the_abandoned_attempt_change_nothing():
    record = placed_record()
    replanned("dead", 1, 5.0)(record)

    for kind in ("started", "completed", "failed"):
        assert not from_event(event(kind, 1))(record)
    assert record.status == "scheduled"


def test_the_next_placement_keeps_where_the_task_was_taken_from():
    record = placed_record()
    replanned("dead", 1, 5.0)(record)
    placement = Placement("t", "edge", "alive", 0.5, 0.1, "test")

    assert placed(placement, 2, 100.0, {"policy": "earliest-finish"})(record)
    assert from_event(event("completed", 2, "alive"))(record)

    assert record.status == "completed"
    assert record.attempts == 2 and record.node_id == "alive"
    assert record.explanation["replanned_from"] == "dead"
    assert record.explanation["policy"] == "earliest-finish"


def test_only_edge_job_subjects_name_a_node():
    assert edge_node_of("jobs.edge.edge-1") == "edge-1"
    assert edge_node_of("jobs.cloud") is None


def test_a_task_whose_node_dies_under_it_max_attempts_times_fails_as_a_dead_letter():
    record = placed_record()
    for attempt in (1, 2):
        assert replanned(f"dead-{attempt}", attempt, 5.0, max_attempts=3)(record)
        assert record.status == "scheduled"
        placement = Placement("t", "edge", f"dead-{attempt + 1}", 0.5, 0.1, "test")
        assert placed(placement, attempt + 1, 100.0, {"policy": "greedy"})(record)
    assert record.explanation["replans"] == 2

    assert replanned("dead-3", 3, 9.0, max_attempts=3)(record)

    assert record.status == "failed"
    assert record.error == (
        "gave up after 3 tries: the node it was sent to stopped each time (last dead-3)"
    )
    assert record.dead_letter == {
        "cause": "replans",
        "tries": 3,
        "attempt": 3,
        "node_id": "dead-3",
        "at": 9.0,
    }
    # Final now: a late event of the last attempt changes nothing.
    assert not from_event(event("completed", 3, "dead-3"))(record)
