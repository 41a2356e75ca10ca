"""Processing one job: fetch the input, run the operation, store the output.

Everything that happens is published as a task event. A file that cannot be
processed fails its task with the reason and the job is done; only trouble
with the bus itself raises, so the worker loop retries the job later.

`completed` and `failed` are published to JetStream and wait for its ack
before the job is acked. `started` and `progress` are advisory: they go out
without waiting for an ack, because the final event carries `started_at`
and moves the record forward on its own if one of them is lost.
"""

import asyncio
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from nats.aio.client import Client
from nats.js import JetStreamContext

import media
from bus import subjects
from bus.errors import FileCorrupt, FileMissing
from bus.file_store import CHUNK_BYTES, FileStore
from bus.schemas import Job, TaskEvent
from node.compute import Compute, fits_inline
from node.emulation import Emulation
from node.load import LoadTracker

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.5


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
    ) -> None:
        self._nc = nc
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

    async def __call__(self, job: Job, attempt: int) -> None:
        """Process one job end to end; raise only for bus trouble."""
        started_at = time.time()
        self._load.job_started()
        ok = False
        # Flat files named by task and delivery, not a folder per job: creating
        # and removing folders costs more than the work on a small image.
        scratch = self._work_dir / f"{job.task_id}-{attempt}"
        try:
            started = self._event("started", job, attempt, started_at=started_at)
            await self._nc.publish(subjects.task_event("started"), started.encode())
            ok = await self._run(job, attempt, started_at, scratch)
        finally:
            self._load.job_finished(time.time() - started_at, ok)
            for suffix in (".input", ".output"):
                scratch.with_suffix(suffix).unlink(missing_ok=True)

    async def _run(
        self, job: Job, attempt: int, started_at: float, scratch: Path
    ) -> bool:
        input_path = scratch.with_suffix(".input")
        output_path = scratch.with_suffix(".output")

        began = time.perf_counter()
        try:
            small_input = await self._fetch(job, input_path)
        except (FileMissing, FileCorrupt) as error:
            await self._fail(job, attempt, started_at, f"input unavailable: {error}")
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
                self._progress_reporter(job, attempt),
                inline=fits_inline(job.kind, small_input),
            )
        except media.MediaError as error:
            await self._fail(job, attempt, started_at, str(error))
            return False
        computed = time.perf_counter()

        # Only a retried job can find an older output to replace.
        first_try = attempt == 1 and job.attempt == 1
        await self._files.put_file(
            job.output_object, output_path, replace=not first_try
        )
        await self._emulation.transfer(info.size_bytes)
        stored = time.perf_counter()

        name, _ = media.output_name(job.filename, job.kind, job.operation, job.params)
        completed = self._event(
            "completed",
            job,
            attempt,
            started_at=started_at,
            completed_at=time.time(),
            fetch_ms=(fetched - began) * 1000,
            compute_ms=(computed - fetched) * 1000,
            store_ms=(stored - computed) * 1000,
            output_name=name,
            output_size=info.size_bytes,
            output_type=info.content_type,
        )
        await self._js.publish(subjects.task_event("completed"), completed.encode())
        logger.debug("task %s done in %.3fs", job.task_id, stored - began)
        return True

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
        self, job: Job, attempt: int, started_at: float, reason: str
    ) -> None:
        logger.info("task %s failed on %s: %s", job.task_id, self._node_id, reason)
        failed = self._event(
            "failed",
            job,
            attempt,
            started_at=started_at,
            completed_at=time.time(),
            error=reason,
        )
        await self._js.publish(subjects.task_event("failed"), failed.encode())

    def _progress_reporter(self, job: Job, attempt: int) -> Callable[[float], None]:
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
            event = self._event("progress", job, attempt, progress=fraction)
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

    def _event(self, kind: str, job: Job, attempt: int, **fields) -> TaskEvent:
        return TaskEvent(
            kind=kind,
            task_id=job.task_id,
            attempt=job.attempt,
            node_id=self._node_id,
            tier=self._tier,
            at=time.time(),
            **fields,
        )
