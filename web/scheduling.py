"""Scheduling: announce tasks on tasks.scheduled, then mark their records."""

import asyncio
import logging
import time
from collections.abc import Sequence

from nats.js import JetStreamContext

from bus import subjects
from bus.errors import TaskNotFound
from bus.schemas import ScheduledTask, TaskRecord
from bus.task_store import Change, TaskStore

logger = logging.getLogger(__name__)

ACK_TIMEOUT_S = 10.0


def mark_scheduled(at: float) -> Change:
    """A record change to "scheduled" that never moves a status backwards."""

    def change(record: TaskRecord) -> bool:
        # The coordinator may have picked the task up already.
        if record.status != "uploaded":
            return False
        record.status = "scheduled"
        record.scheduled_at = at
        return True

    return change


async def announce(
    js: JetStreamContext,
    task_ids: Sequence[str],
    at: float,
    occasion: str = "schedule",
) -> None:
    """Publish one ScheduledTask per id and wait until JetStream has them all.

    The message id is `<task>:<occasion>`: JetStream drops a repeat of the
    same id (a retried request), so every new reason to place a task again
    needs an occasion of its own.
    """
    # Every publish goes out before any ack is awaited: one round trip in all.
    acks = []
    for task_id in task_ids:
        payload = ScheduledTask(task_id=task_id, scheduled_at=at).encode()
        headers = {"Nats-Msg-Id": f"{task_id}:{occasion}"}
        ack = await js.publish_async(subjects.TASKS_SCHEDULED, payload, headers=headers)
        acks.append(ack)
    async with asyncio.timeout(ACK_TIMEOUT_S):
        await asyncio.gather(*acks)


async def schedule(
    js: JetStreamContext, store: TaskStore, task_ids: Sequence[str]
) -> list[TaskRecord]:
    """Publish one ScheduledTask per id, then mark the records; return them."""
    if not task_ids:
        return []
    at = time.time()
    await announce(js, task_ids, at)

    change = mark_scheduled(at)
    results = await asyncio.gather(
        *(store.update(task_id, change) for task_id in task_ids),
        return_exceptions=True,
    )
    records: list[TaskRecord] = []
    for task_id, result in zip(task_ids, results, strict=True):
        if isinstance(result, TaskNotFound):
            logger.info("task %s was deleted while it was being scheduled", task_id)
        elif isinstance(result, BaseException):
            raise result
        else:
            records.append(result)

    logger.info("scheduled %d tasks", len(records))
    return records
