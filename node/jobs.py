"""Processing one job: fetch the input, run the operation, store the output.

Everything that happens is published as a task event. A file that cannot be
processed fails its task with the reason and the job is done; only trouble
with the bus itself raises, so the worker loop retries the job later.

`completed` and `failed` are published to JetStream and wait for its ack
before the job is acked. `started`, `progress` and `retrying` are advisory:
they go out without waiting for an ack, because the final event carries
`started_at` and moves the record forward on its own if one of them is lost.

A job can run more than once (its node died before the ack, or the ack was
lost), so every run stores its result under a name of its own (task, attempt
and delivery) and an attempt's final event carries one message id: JetStream
keeps the first and drops a repeat, and the run whose report was dropped
removes its own result. A result the record points at is never overwritten.
"""

import asyncio
import logging
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import APIError

import media
from bus import subjects
from bus.connection import until_connected
from bus.errors import FileCorrupt, FileMissing
from bus.file_store import CHUNK_BYTES, FileStore
from bus.schemas import Job, TaskEvent
from node.compute import Compute, fits_inline
from node.emulation import Emulation
from node.load import LoadTracker

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.5
FINAL_PUBLISH_TRIES = 4
"""Sends of one final event before the job is handed back. With the client's
10 s ack timeout this stays well inside JetStream's 2-minute duplicate
window, so every try carries the same weight as the first."""
FINAL_RETRY_PAUSE_S = 0.5


class JobRunner:
    """Runs jobs for one node and reports them as events."""

    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        files: FileStore,
        node_id: str,
        tier: str,
        work_dir: Path,
        compute_threads: int,
        load: LoadTracker,
        emulation: Emulation,
        jobs_subject: str = "",
    ) -> None:
        self._nc = nc
        self.jobs_subject = jobs_subject
        """Where this node's jobs come from: named in every line about a job."""
        self._js = js
        self._files = files
        self._node_id = node_id
        self._tier = tier
        self._work_dir = work_dir / f"offload-{node_id}"
        self._work_dir.mkdir(parents=True, exist_ok=True)
        self._compute = Compute(compute_threads, emulation)
        self._load = load
        self._emulation = emulation
        self._background: set[asyncio.Future] = set()

    def close(self) -> None:
        """Release the compute threads and the scratch folder."""
        self._compute.close()
        shutil.rmtree(self._work_dir, ignore_errors=True)

    def clear_scratch(self) -> int:
        """Remove files a killed predecessor with this node id left; say how many."""
        leftovers = [path for path in self._work_dir.iterdir() if path.is_file()]
        for path in leftovers:
            path.unlink(missing_ok=True)
        return len(leftovers)

    async def __call__(self, job: Job, delivery: int) -> None:
        """Process one delivery of a job end to end; raise only for bus trouble."""
        started_at = time.time()
        self._load.job_started()
        ok = False
        # Flat files named by task and delivery, not a folder per job: creating
        # and removing folders costs more than the work on a small image.
        scratch = self._work_dir / f"{job.task_id}-{job.attempt}-{delivery}"
        try:
            started = self._event("started", job, delivery, started_at=started_at)
            await self._nc.publish(subjects.task_event("started"), started.encode())
            ok = await self._run(job, delivery, started_at, scratch)
        finally:
            self._load.job_finished(time.time() - started_at, ok)
            for suffix in (".input", ".output"):
                scratch.with_suffix(suffix).unlink(missing_ok=True)

    async def give_up(self, job: Job, delivery: int, reason: str) -> None:
        """Fail the task without running it again, as a dead letter."""
        logger.warning("task %s: %s", job.task_id, reason)
        failed = self._event(
            "failed",
            job,
            delivery,
            completed_at=time.time(),
            error=reason,
            dead_letter={
                "cause": "deliveries",
                "tries": delivery - 1,
                "attempt": job.attempt,
            },
        )
        await self._publish_final(failed)
        self._load.failed += 1

    async def report_retry(self, job: Job, delivery: int, error: Exception) -> None:
        """Say why this run is handed back, so a later give-up can name it."""
        reason = f"{self._node_id}: {type(error).__name__}: {error}"[:500]
        event = self._event("retrying", job, delivery, error=reason)
        try:
            await self._nc.publish(subjects.task_event("retrying"), event.encode())
        except Exception as publish_error:  # the bus is what failed, most likely
            logger.debug("retrying event lost: %s", publish_error)

    async def _run(
        self, job: Job, delivery: int, started_at: float, scratch: Path
    ) -> bool:
        input_path = scratch.with_suffix(".input")
        output_path = scratch.with_suffix(".output")

        began = time.perf_counter()
        try:
            small_input = await self._fetch(job, input_path)
        except (FileMissing, FileCorrupt) as error:
            await self._fail(job, delivery, started_at, f"input unavailable: {error}")
            return False
        await self._emulation.transfer(job.size)
        fetched = time.perf_counter()

        try:
            info = await self._compute.run(
                job.kind,
                job.operation,
                job.params,
                input_path,
                output_path,
                self._progress_reporter(job, delivery),
                inline=fits_inline(job.kind, small_input),
            )
        except media.MediaError as error:
            await self._fail(job, delivery, started_at, str(error))
            return False
        computed = time.perf_counter()

        # A name no other run uses: nothing older can be in the way.
        run = f"{delivery}-{secrets.token_hex(4)}"
        output_object = subjects.run_output_object(job.task_id, job.attempt, run)
        await self._files.put_file(output_object, output_path, replace=False)
        await self._emulation.transfer(info.size_bytes)
        stored = time.perf_counter()

        name, _ = media.output_name(job.filename, job.kind, job.operation, job.params)
        completed = self._event(
            "completed",
            job,
            delivery,
            started_at=started_at,
            completed_at=time.time(),
            fetch_ms=(fetched - began) * 1000,
            compute_ms=(computed - fetched) * 1000,
            store_ms=(stored - computed) * 1000,
            output_name=name,
            output_size=info.size_bytes,
            output_type=info.content_type,
            output_object=output_object,
        )
        if not await self._publish_final(completed):
            # Another run of this attempt has reported already; its result is
            # the one that counts, and nothing will ever point at ours.
            await self._files.delete(output_object)
        logger.debug("task %s done in %.3fs", job.task_id, stored - began)
        return True

    async def _publish_final(self, event: TaskEvent) -> bool:
        """Publish an attempt's final event; False when another run's is the one
        JetStream kept.

        A duplicate can also be this very event, sent again by the client
        after a reconnect; the stored copy tells the two apart. When it
        cannot be read the result is kept: a stray result costs storage, a
        removed one would leave the record pointing at nothing.
        """
        payload = event.encode()
        subject = subjects.task_event(event.kind)
        headers = {"Nats-Msg-Id": subjects.final_event_id(event.task_id, event.attempt)}
        ack = await self._publish_until_confirmed(event, subject, payload, headers)
        if not ack.duplicate:
            return True
        try:
            stored = await self._js.get_msg(subjects.EVENTS_STREAM, ack.seq)
        except (nats.errors.Error, APIError, TimeoutError) as error:
            logger.info("cannot read event %d to compare (%s); keeping", ack.seq, error)
            return True
        if stored.data == payload:
            return True
        logger.info(
            "task %s attempt %d had reported already; this run's %s is dropped",
            event.task_id,
            event.attempt,
            event.kind,
        )
        return False

    async def _publish_until_confirmed(
        self, event: TaskEvent, subject: str, payload: bytes, headers: dict[str, str]
    ) -> PubAck:
        """Publish a final event, sending it again while JetStream does not confirm.

        A final event lost with a dying server must not become a rerun: the
        rerun would store a second result and this run's would be left
        behind. Sending the same message id again is safe (JetStream keeps
        one copy per id within its duplicate window), so the report is
        retried here, after the connection is back, before giving up.
        """
        tries = 1
        while True:
            try:
                return await self._js.publish(subject, payload, headers=headers)
            except (nats.errors.Error, TimeoutError) as error:
                why = error or type(error).__name__
                if tries == FINAL_PUBLISH_TRIES:
                    logger.warning(
                        "task %s: the %s event of attempt %d was not confirmed "
                        "after %d tries (%s); the job goes back to the queue",
                        event.task_id,
                        event.kind,
                        event.attempt,
                        tries,
                        why,
                    )
                    raise
                logger.info(
                    "task %s: %s event not confirmed (%s); sending it again",
                    event.task_id,
                    event.kind,
                    why,
                )
            await until_connected(self._nc)
            await asyncio.sleep(FINAL_RETRY_PAUSE_S * tries)
            tries += 1

    async def _fetch(self, job: Job, input_path: Path) -> bytes | None:
        """Copy the input to its scratch file; return its bytes when it is small.

        An object of one chunk comes in one message and is written in one go;
        a bigger one is streamed to the file and never held whole.
        """
        stored = await self._files.info(job.input_object)
        if stored.size > CHUNK_BYTES:
            await self._files.read_to_file(job.input_object, input_path, stored)
            return None
        data = await self._files.read_bytes(job.input_object, stored)
        input_path.write_bytes(data)
        return data

    async def _fail(
        self, job: Job, delivery: int, started_at: float, reason: str
    ) -> None:
        logger.info(
            "task %s failed on %s (job from %s): %s",
            job.task_id,
            self._node_id,
            self.jobs_subject,
            reason,
        )
        failed = self._event(
            "failed",
            job,
            delivery,
            started_at=started_at,
            completed_at=time.time(),
            error=reason,
        )
        await self._publish_final(failed)

    def _progress_reporter(self, job: Job, delivery: int) -> Callable[[float], None]:
        loop = asyncio.get_running_loop()
        last_sent = 0.0

        def report(fraction: float) -> None:
            # Called from a compute thread (or the loop itself for a small
            # image): hand the publish to the event loop, at most every
            # PROGRESS_INTERVAL_S. The final 1.0 is left to the completed
            # event, which sets it.
            nonlocal last_sent
            if fraction >= 1.0:
                return
            now = time.monotonic()
            if now - last_sent < PROGRESS_INTERVAL_S:
                return
            last_sent = now
            event = self._event("progress", job, delivery, progress=fraction)
            loop.call_soon_threadsafe(self._publish_soon, event)

        return report

    def _publish_soon(self, event: TaskEvent) -> None:
        async def publish() -> None:
            try:
                await self._nc.publish(subjects.task_event("progress"), event.encode())
            except Exception as error:  # progress is advisory; the job goes on
                logger.debug("progress event lost: %s", error)

        task = asyncio.ensure_future(publish())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _event(self, kind: str, job: Job, delivery: int, **fields) -> TaskEvent:
        return TaskEvent(
            kind=kind,
            task_id=job.task_id,
            attempt=job.attempt,
            node_id=self._node_id,
            tier=self._tier,
            at=time.time(),
            delivery=delivery,
            **fields,
        )
