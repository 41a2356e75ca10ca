"""The job loop every node runs: pull, process concurrently, settle, repeat.

The handler publishes the task's events itself; this loop owns the message:
it keeps the lease alive with `in_progress` while a job runs, acks when the
handler returns, and naks with a delay when it raises, so an infrastructure
hiccup (NATS briefly away) means a retry rather than a lost job.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bus.consumer import Delivery, PullConsumer, settle
from bus.schemas import Job

logger = logging.getLogger(__name__)

JobHandler = Callable[[Job, int], Awaitable[None]]
"""Processes one job; receives the job and its delivery attempt (1-based)."""

RETRY_DELAY_S = 2.0


class JobWorker:
    """Runs a handler over a pull consumer with bounded concurrency."""

    def __init__(
        self,
        consumer: PullConsumer[Job],
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
        self._active: set[asyncio.Task[None]] = set()
        self._slots_freed = asyncio.Event()

    @property
    def in_flight(self) -> int:
        """Jobs being processed right now."""
        return len(self._active)

    async def run(self, stop: asyncio.Event, grace_s: float = 30.0) -> None:
        """Process jobs until `stop` is set, then let running ones finish."""
        async for batch in self._consumer.batches(stop, self._free_slots):
            for delivery in batch:
                task = asyncio.create_task(self._process(delivery))
                self._active.add(task)
                task.add_done_callback(self._finished)
            while self._free_slots() == 0 and not stop.is_set():
                self._slots_freed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._slots_freed.wait(), timeout=1.0)

        await self._consumer.close()
        await self._finish_in_flight(grace_s)

    def _free_slots(self) -> int:
        return self._concurrency - len(self._active)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._active.discard(task)
        self._slots_freed.set()

    async def _process(self, delivery: Delivery[Job]) -> None:
        job = delivery.item
        keep_alive = asyncio.create_task(self._keep_lease(delivery))
        try:
            await self._handler(job, delivery.attempt)
        except asyncio.CancelledError:
            # Shutting down mid-job: hand it back at once for another node.
            await settle(delivery.msg.nak())
            raise
        except Exception:
            logger.exception(
                "job for task %s failed unexpectedly (attempt %d); will retry",
                job.task_id,
                delivery.attempt,
            )
            await settle(delivery.msg.nak(delay=RETRY_DELAY_S))
        else:
            await settle(delivery.msg.ack())
        finally:
            keep_alive.cancel()

    async def _keep_lease(self, delivery: Delivery[Job]) -> None:
        while True:
            await asyncio.sleep(self._lease_refresh_s)
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
