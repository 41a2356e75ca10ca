"""The job loop every node runs: take jobs as they come, process, settle.

The handler publishes the task's events itself; this loop owns the message:
it keeps the lease alive with `in_progress` while a job runs, acks when the
handler returns, and naks with a delay when it raises, so an infrastructure
hiccup (NATS briefly away) means a retry rather than a lost job.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

import nats.errors
from nats.js.errors import APIError

from bus.consumer import Delivery, StreamingConsumer, settle
from bus.file_store import FileStoreFull, FileStoreUnavailable
from bus.schemas import Job

logger = logging.getLogger(__name__)

JobHandler = Callable[[Job, int], Awaitable[None]]
"""Processes one job; receives the job and which delivery of it this is
(1-based: 2 and up mean an earlier run ended without settling it)."""

RETRY_DELAY_S = 2.0
BUS_TROUBLE = (
    nats.errors.Error,
    APIError,
    TimeoutError,
    FileStoreFull,
    FileStoreUnavailable,
)
"""What a handler raises when the bus, not the job, is at fault."""


class JobWorker:
    """Runs a handler over a streaming consumer with bounded concurrency."""

    def __init__(
        self,
        consumer: StreamingConsumer[Job],
        handler: JobHandler,
        concurrency: int,
        lease_refresh_s: float = 10.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self._consumer = consumer
        self._handler = handler
        self._concurrency = concurrency
        self._lease_refresh_s = lease_refresh_s
        self._active: dict[asyncio.Task[None], Delivery[Job]] = {}
        self._accepting = False

    @property
    def in_flight(self) -> int:
        """Jobs being processed right now."""
        return len(self._active)

    async def run(self, stop: asyncio.Event, grace_s: float = 30.0) -> None:
        """Process jobs until `stop` is set, then let running ones finish."""
        # One loop refreshes every running job's lease: cheaper than a timer
        # per job when most jobs take milliseconds.
        leases = asyncio.create_task(self._keep_leases(), name="job leases")
        try:
            self._accepting = True
            await self._consumer.start(self._free_slots, self._start)
            await stop.wait()
            self._accepting = False
            await self._consumer.close()
            await self._finish_in_flight(grace_s)
        finally:
            self._accepting = False
            leases.cancel()
            await asyncio.gather(leases, return_exceptions=True)

    def _free_slots(self) -> int:
        if not self._accepting:
            return 0
        return self._concurrency - len(self._active)

    def _start(self, delivery: Delivery[Job]) -> None:
        task = asyncio.create_task(self._process(delivery))
        self._active[task] = delivery
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._active.pop(task, None)
        self._consumer.pull()

    async def _process(self, delivery: Delivery[Job]) -> None:
        job = delivery.item
        try:
            await self._handler(job, delivery.attempt)
        except asyncio.CancelledError:
            # Shutting down mid-job: hand it back at once for another node.
            await settle(delivery.msg.nak())
            raise
        except BUS_TROUBLE as error:
            # Expected while NATS restarts or the store is full: no traceback.
            logger.warning(
                "job for task %s (delivery %d) handed back after bus trouble: %s",
                job.task_id,
                delivery.attempt,
                error or type(error).__name__,
            )
            await settle(delivery.msg.nak(delay=RETRY_DELAY_S))
        except Exception:
            logger.exception(
                "job for task %s failed unexpectedly (attempt %d); will retry",
                job.task_id,
                delivery.attempt,
            )
            await settle(delivery.msg.nak(delay=RETRY_DELAY_S))
        else:
            await settle(delivery.msg.ack())

    async def _keep_leases(self) -> None:
        # Every running job is refreshed at least once per interval, so a job
        # never goes longer than lease_refresh_s without one.
        while True:
            await asyncio.sleep(self._lease_refresh_s)
            for task, delivery in list(self._active.items()):
                if not task.done():
                    await settle(delivery.msg.in_progress())

    async def _finish_in_flight(self, grace_s: float) -> None:
        if not self._active:
            return
        logger.info("waiting up to %.0fs for %d jobs", grace_s, len(self._active))
        _, late = await asyncio.wait(set(self._active), timeout=grace_s)
        for task in late:
            task.cancel()
        if late:
            logger.warning("handed back %d unfinished jobs", len(late))
            await asyncio.gather(*late, return_exceptions=True)
