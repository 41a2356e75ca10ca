"""Retry and cancel: the two status changes a person asks for.

Both are compare-and-set writes on the record's revision (the store retries
on a concurrent write and decides again from the fresh record), so a
coordinator or node writing at the same moment is never overwritten.

- Retry: a failed or cancelled task goes back to `scheduled` with its
  attempts kept and its error, placement and results cleared, and is
  announced on tasks.scheduled again. The record is written first: a
  coordinator that reads the announcement must find the task scheduled.
- Cancel: a task not yet in a final state becomes `cancelled`. The
  coordinator never changes a final record, and events of the abandoned
  attempt are ignored, so it stays cancelled; a node that has not started
  its job yet reads the record and skips it.

Dead letters are failed tasks the system gave up on after too many tries
(the record's `dead_letter` says why); they are listed on their own, and a
retry takes a task off the list.
"""

import asyncio
import dataclasses
import logging
import time

from aiohttp import web

from bus.schemas import FINAL_STATUSES, TaskRecord
from bus.task_store import Change, TaskQuery, TaskStore
from web.errors import ApiError
from web.keys import JS, STORE
from web.scheduling import announce

logger = logging.getLogger(__name__)

RETRYABLE = ("failed", "cancelled")
CANCELLED_ERROR = "cancelled on request"


def refuse(record: TaskRecord, action: str, allowed: str) -> ApiError:
    """The 409 for a change the task's status does not allow."""
    return ApiError(
        409,
        f"task {record.id} is {record.status}; only {allowed} tasks can be {action}",
        field="id",
        task_status=record.status,
    )


def retried(at: float, before: list[TaskRecord]) -> Change:
    """A change back to `scheduled`; keeps the record it replaced in `before`."""

    def change(record: TaskRecord) -> bool:
        if record.status not in RETRYABLE:
            raise refuse(record, "retried", "failed or cancelled")
        before[:] = [record.copy()]
        record.status = "scheduled"
        record.scheduled_at = at
        record.error = None
        record.tier = None
        record.node_id = None
        record.picked_at = None
        record.started_at = None
        record.completed_at = None
        record.queue_wait_ms = None
        record.transfer_ms = None
        record.compute_ms = None
        record.total_ms = None
        record.progress = None
        record.explanation = None
        record.output_name = None
        record.output_size = None
        record.output_type = None
        record.output_object = None
        record.dead_letter = None
        return True

    return change


def restored(at: float, before: TaskRecord) -> Change:
    """Undo a retry whose announcement failed, unless the task moved on since."""

    def change(record: TaskRecord) -> bool:
        if record.status != "scheduled" or record.scheduled_at != at:
            return False
        snapshot = before.copy()
        for item in dataclasses.fields(record):
            setattr(record, item.name, getattr(snapshot, item.name))
        return True

    return change


def cancelled(record: TaskRecord) -> bool:
    """A change to `cancelled` for a task not yet finished."""
    if record.status in FINAL_STATUSES:
        raise refuse(record, "cancelled", "unfinished")
    record.status = "cancelled"
    record.error = CANCELLED_ERROR
    record.progress = None
    return True


async def retry_task(request: web.Request) -> web.Response:
    """POST /api/v1/tasks/{id}/retry: schedule a failed or cancelled task again."""
    store: TaskStore = request.app[STORE]
    at = time.time()
    before: list[TaskRecord] = []
    task_id = request.match_info["id"]
    # A fresh read first: the store starts an update from the last version
    # it saw itself, and a refusal decided on an old status writes nothing
    # that would reveal it was old.
    await store.get(task_id)
    record = await store.update(task_id, retried(at, before))

    occasion = f"retry:{record.attempts}:{int(at * 1e6)}"
    try:
        await announce(request.app[JS], [record.id], at, occasion)
    except BaseException:
        await asyncio.shield(_undo_retry(store, record.id, at, before[0]))
        raise
    logger.info("task %s retried after %d attempts", record.id, record.attempts)
    return web.json_response(record.public())


async def _undo_retry(
    store: TaskStore, task_id: str, at: float, before: TaskRecord
) -> None:
    # Best effort: the announcement's error is the one to report.
    try:
        await store.update(task_id, restored(at, before))
    except Exception as error:
        logger.warning("could not undo the retry of %s: %s", task_id, error)


async def cancel_task(request: web.Request) -> web.Response:
    """POST /api/v1/tasks/{id}/cancel: stop an unfinished task from being run."""
    store: TaskStore = request.app[STORE]
    await store.get(request.match_info["id"])  # fresh, as for a retry
    record = await store.update(request.match_info["id"], cancelled)
    logger.info("task %s cancelled (was on %s)", record.id, record.node_id or "no node")
    return web.json_response(record.public())


async def list_dead_letters(request: web.Request) -> web.Response:
    """GET /api/v1/deadletter: the tasks given up on, the latest first."""
    failed = await request.app[STORE].list(TaskQuery(status="failed"))
    dead = [record for record in failed if record.dead_letter is not None]
    dead.sort(key=lambda record: -(record.dead_letter or {}).get("at", 0.0))
    body = {"tasks": [record.public() for record in dead], "total": len(dead)}
    return web.json_response(body)
