"""How placements and node events change a task record.

Events can arrive late, twice, or out of order (a redelivered job, a started
event behind its completion). Every change here is safe in any order: status
only moves forward, an event from an older attempt is ignored, and a final
state is never left. The one exception is a re-plan (`coordinator/replan.py`),
which moves a task whose node died back to scheduled; events of the attempt it
abandoned are ignored from then on.
"""

import time

from bus.schemas import TaskEvent, TaskRecord
from policy.types import Placement

STATUS_RANK = {
    "uploaded": 0,
    "scheduled": 1,
    "placed": 2,
    "running": 3,
    "completed": 4,
    "failed": 4,
    "cancelled": 4,
}

CARRIED_EXPLANATION = ("replanned_from", "replanned_at", "replans")
"""Explanation entries a new placement keeps from the one before."""


def advance(record: TaskRecord, status: str) -> None:
    """Move the status forward, never back."""
    if STATUS_RANK[status] > STATUS_RANK[record.status]:
        record.status = status


def needs_placement(record: TaskRecord) -> bool:
    """Whether a scheduled-task message for this record still has work to do."""
    return record.status in ("uploaded", "scheduled")


def placed(
    placement: Placement,
    attempt: int,
    scheduled_at: float,
    explanation: dict,
    picked_at: float | None = None,
):
    """A change recording where the task was sent (`picked_at`: when it was)."""

    def change(record: TaskRecord) -> bool:
        if record.is_final or record.attempts >= attempt:
            return False
        record.attempts = attempt
        record.tier = placement.tier
        record.node_id = placement.node_id
        # The job is published before this write, so a fast node can start
        # first: the pick time is the dispatch time, not the time of writing.
        record.picked_at = picked_at or time.time()
        record.scheduled_at = record.scheduled_at or scheduled_at
        # A re-planned task keeps saying where it was taken from.
        carried = {
            key: value
            for key, value in (record.explanation or {}).items()
            if key in CARRIED_EXPLANATION
        }
        record.explanation = {**carried, **explanation}
        record.error = None
        advance(record, "placed")
        return True

    return change


def from_event(event: TaskEvent):
    """A change recording what a node reported."""

    def change(record: TaskRecord) -> bool:
        if record.is_final or event.attempt < record.attempts:
            return False
        if record.status == "scheduled" and event.attempt <= record.attempts:
            # An attempt abandoned by a re-plan: its node was given up for dead.
            return False
        if event.kind == "progress":
            if record.status != "running" or (record.progress or 0) >= (
                event.progress or 0
            ):
                return False
            record.progress = event.progress
            return True
        if event.kind == "retrying":
            # The run was handed back; the task stays where it is, and the
            # error is what a give-up will name as the last one.
            if event.error is None or record.error == event.error:
                return False
            record.error = event.error
            return True

        record.node_id = record.node_id or event.node_id
        record.tier = record.tier or event.tier
        if event.started_at is not None:
            record.started_at = event.started_at

        if event.kind == "started":
            advance(record, "running")
            return True

        record.completed_at = event.completed_at or event.at
        _fill_durations(record, event)
        if event.kind == "completed":
            record.status = "completed"
            record.progress = 1.0
            record.error = None
            record.output_name = event.output_name
            record.output_size = event.output_size
            record.output_type = event.output_type
            record.output_object = event.output_object
        else:
            record.status = "failed"
            record.error = event.error or "failed without a reason"
            if event.dead_letter is not None:
                record.dead_letter = dead_letter(
                    event.dead_letter, event.node_id, event.at
                )
        return True

    return change


def dead_letter(details: dict, node_id: str | None, at: float) -> dict:
    """The dead-letter entry of a record: why it was given up, where, when.

    `details` names the `cause` (`deliveries`: its job was delivered too
    often; `replans`: its node died under it too often; `max_deliveries`:
    JetStream itself gave up) and the tries made.
    """
    return {**details, "node_id": node_id, "at": at}


def _fill_durations(record: TaskRecord, event: TaskEvent) -> None:
    if record.scheduled_at and record.started_at:
        record.queue_wait_ms = max(record.started_at - record.scheduled_at, 0) * 1000
    if event.fetch_ms is not None:
        record.transfer_ms = event.fetch_ms + (event.store_ms or 0.0)
    record.compute_ms = event.compute_ms
    if record.scheduled_at and record.completed_at:
        record.total_ms = max(record.completed_at - record.scheduled_at, 0) * 1000
