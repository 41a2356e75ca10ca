"""Before a job runs: is it still wanted, and has it been tried too often?

A job can outlive the reason it was sent: its task may have been cancelled or
deleted while it waited, finished by an earlier delivery whose ack was lost,
or re-planned onto another node as a newer attempt. The node reads the task's
record first and acks such a job without running it.

A job whose node keeps dying (or keeps losing the bus) under it comes back
again and again. After `max_attempts` deliveries the next one does not run
it: it fails the task with the last error the record holds and marks it as a
dead letter, so JetStream's own delivery limit is never the one that ends it.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nats.errors
from nats.js.errors import APIError, InvalidKeyError, KeyNotFoundError
from nats.js.kv import KeyValue

from bus.errors import MalformedMessage, TaskNotFound
from bus.schemas import Job, TaskRecord
from node.jobs import JobRunner

logger = logging.getLogger(__name__)

NO_RESULT = "every try ended without a result (its node stopped or lost its lease)"
RECORD_CHECK_TIMEOUT_S = 2.0
"""A record read that takes longer is given up: the job runs unchecked."""

RecordReader = Callable[[str], Awaitable[TaskRecord]]
"""Reads a task's record; raises TaskNotFound when there is none."""


def stale_reason(job: Job, record: TaskRecord) -> str | None:
    """Why the job is no longer wanted, or None when it should run."""
    if record.status == "cancelled":
        return "the task was cancelled"
    if record.is_final:
        return f"the task is already {record.status}"
    if job.attempt < record.attempts:
        return f"attempt {job.attempt} was replaced by attempt {record.attempts}"
    if record.status == "scheduled" and job.attempt == record.attempts:
        # Re-planned away from a node taken for dead; the next attempt is coming.
        return f"attempt {job.attempt} was re-planned"
    return None


def give_up_reason(job: Job, tries: int, record: TaskRecord | None) -> str:
    """The failure a dead-lettered task carries: tries made and the last error."""
    last = record.error if record is not None and record.error else NO_RESULT
    return f"gave up after {tries} tries of attempt {job.attempt}: {last}"


@dataclass(frozen=True)
class Verdict:
    """What to do with one delivery of a job."""

    run: bool
    record: TaskRecord | None
    skip_reason: str | None = None


class AdmittedRunner:
    """The node's job handler: checks the record, then runs, gives up or skips."""

    def __init__(
        self,
        runner: JobRunner,
        read_record: RecordReader | None,
        max_attempts: int,
    ) -> None:
        self._runner = runner
        self._read_record = read_record
        self._max_attempts = max_attempts
        self._warned_unreadable = False
        self.skipped = 0

    async def __call__(self, job: Job, delivery: int) -> None:
        """Handle one delivery; raise only for bus trouble (the job is retried)."""
        verdict = await self._verdict(job)
        if not verdict.run:
            self.skipped += 1
            logger.info(
                "skipping job for task %s (attempt %d, from %s): %s",
                job.task_id,
                job.attempt,
                self._runner.jobs_subject,
                verdict.skip_reason,
            )
            return

        if delivery > self._max_attempts:
            reason = give_up_reason(job, delivery - 1, verdict.record)
            await self._runner.give_up(job, delivery, reason)
            return

        try:
            await self._runner(job, delivery)
        except Exception as error:
            await self._runner.report_retry(job, delivery, error)
            raise

    async def _verdict(self, job: Job) -> Verdict:
        if self._read_record is None:
            return Verdict(run=True, record=None)
        try:
            record = await asyncio.wait_for(
                self._read_record(job.task_id), RECORD_CHECK_TIMEOUT_S
            )
        except TaskNotFound:
            return Verdict(False, None, "the task no longer exists")
        except (nats.errors.Error, APIError, TimeoutError, MalformedMessage) as error:
            # The check saves work; it is not what keeps results right (the
            # coordinator ignores stale attempts), so a node that cannot read
            # records (no permission, NATS slow) runs the job anyway.
            log = logger.debug if self._warned_unreadable else logger.warning
            log(
                "cannot read the record of task %s (%s); running it", job.task_id, error
            )
            self._warned_unreadable = True
            return Verdict(run=True, record=None)
        reason = stale_reason(job, record)
        return Verdict(reason is None, record, reason)


def kv_reader(kv: KeyValue) -> RecordReader:
    """Read records straight from the `tasks` bucket (no cache: each job once)."""

    async def read(task_id: str) -> TaskRecord:
        try:
            entry = await kv.get(task_id)
        except (KeyNotFoundError, InvalidKeyError):
            raise TaskNotFound(task_id) from None
        if not entry.value:
            raise TaskNotFound(task_id)
        return TaskRecord.decode(entry.value)

    return read
