"""The backstop for jobs JetStream gave up on.

Nodes fail a task themselves on the delivery after its last allowed try
(`node/admission.py`), which JetStream's larger delivery limit always leaves
room for. If even those spare deliveries end without a word (the nodes that
got them died as well), JetStream stops delivering the job and says so with a
max-deliveries advisory. The leader listens for it, fails the task as a dead
letter with the last error its record holds, and removes the job from the
work queue, where it would otherwise stay forever.

Advisories are not stored: one sent while no coordinator leads is missed,
and its job stays in the stream until its edge node is re-planned (a cloud
job until an operator removes it).
"""

import asyncio
import contextlib
import json
import logging
import time

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from bus import subjects
from bus.errors import MalformedMessage, TaskNotFound
from bus.schemas import Job, TaskRecord
from bus.task_store import Change, TaskStore
from coordinator.records import dead_letter

logger = logging.getLogger(__name__)

NO_RESULT = "no delivery ended with a result (its nodes stopped or lost their lease)"


def exhausted(job: Job, deliveries: int, at: float) -> Change:
    """A change failing the task of a job JetStream stopped delivering."""

    def change(record: TaskRecord) -> bool:
        if record.is_final or record.attempts != job.attempt:
            return False  # finished, or a newer attempt is under way
        last = record.error or NO_RESULT
        record.status = "failed"
        record.completed_at = at
        record.progress = None
        record.error = (
            f"gave up after {deliveries} deliveries of attempt {job.attempt}: {last}"
        )
        record.dead_letter = dead_letter(
            {"cause": "max_deliveries", "tries": deliveries, "attempt": job.attempt},
            job.node_id,
            at,
        )
        return True

    return change


class DeliveryLimitWatcher:
    """Fails the tasks of jobs that reached JetStream's delivery limit."""

    def __init__(self, nc: Client, js: JetStreamContext, store: TaskStore) -> None:
        self._nc = nc
        self._js = js
        self._store = store
        self._subscription: Subscription | None = None
        self._pending: set[asyncio.Task[bool]] = set()
        self.given_up_count = 0

    async def start(self) -> None:
        """Listen for advisories (while this coordinator leads)."""
        if self._subscription is None:
            subject = subjects.max_deliveries_advisory(subjects.JOBS_STREAM)
            self._subscription = await self._nc.subscribe(subject, cb=self._advised)

    async def stop(self) -> None:
        """Stop listening and finish the advisories in hand."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()
        await asyncio.gather(*self._pending, return_exceptions=True)

    async def _advised(self, msg: Msg) -> None:
        task = asyncio.create_task(self.handle(msg.data))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def handle(self, advisory: bytes) -> bool:
        """Act on one advisory; True when it failed a task."""
        try:
            body = json.loads(advisory)
            sequence = int(body["stream_seq"])
            deliveries = int(body.get("deliveries") or 0)
        except (ValueError, KeyError, TypeError) as error:
            logger.warning("unreadable max-deliveries advisory: %s", error)
            return False
        try:
            stored = await self._js.get_msg(subjects.JOBS_STREAM, sequence)
        except NotFoundError:
            return False  # acked or removed meanwhile
        except (nats.errors.Error, APIError, TimeoutError) as error:
            logger.warning("could not read job %d: %s", sequence, error)
            return False

        failed = False
        try:
            job = Job.decode(stored.data or b"")
            at = time.time()
            record = await self._store.update(
                job.task_id, exhausted(job, deliveries, at)
            )
            failed = record.dead_letter is not None and record.dead_letter["at"] == at
            if failed:
                self.given_up_count += 1
                logger.warning("task %s failed: %s", job.task_id, record.error)
        except (MalformedMessage, TaskNotFound) as error:
            logger.info("job %d is no task's current job: %s", sequence, error)
        except (nats.errors.Error, APIError, TimeoutError) as error:
            # Left in the stream: a re-plan of its node can still find it.
            logger.warning("could not fail the task of job %d: %s", sequence, error)
            return False
        try:
            await self._js.delete_msg(subjects.JOBS_STREAM, sequence)
        except (nats.errors.Error, APIError, TimeoutError) as error:
            logger.warning("could not remove job %d: %s", sequence, error)
        return failed
