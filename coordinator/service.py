"""The coordinator's life: connect, follow nodes, place tasks, record outcomes."""

import asyncio
import contextlib
import logging
import signal
import time

import nats.errors

from bus import subjects
from bus.connection import close, connect, jetstream
from bus.consumer import Delivery, PullConsumer
from bus.nodes import NodeDirectory, nodes_bucket
from bus.provision import provision
from bus.schemas import ScheduledTask, TaskEvent
from bus.task_store import KvTaskStore
from coordinator.load_view import LoadView
from coordinator.outcomes import OutcomeRecorder
from coordinator.placement import Placer
from coordinator.settings import CoordinatorSettings
from policy.cost_model import CostModel

logger = logging.getLogger(__name__)


async def run_coordinator(settings: CoordinatorSettings, stop: asyncio.Event) -> None:
    """Place tasks and record outcomes until `stop` is set."""
    nc = await connect(settings.bus, "coordinator")
    js = jetstream(nc)
    await provision(js, settings.bus)

    store = await KvTaskStore.open(js)
    directory = NodeDirectory(await nodes_bucket(js), settings.bus.node_ttl_s)
    await directory.start()
    costs = CostModel()
    placer = Placer(
        js,
        store,
        LoadView(directory, costs),
        costs,
        settings.policy,
        settings.no_node_retry_s,
    )
    recorder = OutcomeRecorder(store, directory, costs)

    scheduled = PullConsumer(
        js,
        subjects.TASKS_STREAM,
        subjects.COORDINATOR_TASKS_CONSUMER,
        subjects.TASKS_SCHEDULED,
        ScheduledTask.decode,
        max_deliver=-1,
    )
    events = PullConsumer(
        js,
        subjects.EVENTS_STREAM,
        subjects.COORDINATOR_EVENTS_CONSUMER,
        subjects.EVENTS_ALL,
        TaskEvent.decode,
        max_deliver=-1,
    )
    await scheduled.bind()
    await events.bind()
    logger.info(
        "coordinator placing with %s (window %.1f ms, batch up to %d); %d nodes live",
        settings.policy,
        settings.batch_window_ms,
        settings.max_batch,
        len(directory.live()),
    )

    loops = [
        asyncio.create_task(_placement_loop(scheduled, placer, settings, stop)),
        asyncio.create_task(_outcome_loop(events, recorder, stop)),
    ]
    try:
        await stop.wait()
    finally:
        # Let the current batches settle: a half-placed batch would only be
        # redelivered, but finishing it is cheaper.
        _, late = await asyncio.wait(loops, timeout=10)
        for task in late:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await scheduled.close()
        await events.close()
        await directory.close()
        await close(nc)
        logger.info(
            "coordinator stopped: %d placed, %d finished this run",
            placer.placed_count,
            recorder.finished_count,
        )


async def _placement_loop(
    consumer: PullConsumer[ScheduledTask],
    placer: Placer,
    settings: CoordinatorSettings,
    stop: asyncio.Event,
) -> None:
    window_s = settings.batch_window_ms / 1000
    while not stop.is_set():
        try:
            batch = await consumer.fetch(settings.max_batch, wait_s=1.0)
            if not batch:
                continue
            # Collect a little longer so a burst is decided in one call.
            deadline = time.monotonic() + window_s
            while len(batch) < settings.max_batch:
                left_s = deadline - time.monotonic()
                if left_s <= 0:
                    break
                more = await consumer.fetch(
                    settings.max_batch - len(batch), wait_s=left_s
                )
                if not more:
                    break
                batch.extend(more)
            await placer.place(batch)
        except nats.errors.ConnectionClosedError:
            return
        except Exception:
            logger.exception("placement loop error; carrying on")
            await asyncio.sleep(0.5)


async def _outcome_loop(
    consumer: PullConsumer[TaskEvent], recorder: OutcomeRecorder, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            batch: list[Delivery[TaskEvent]] = await consumer.fetch(512, wait_s=1.0)
            if batch:
                await recorder.record(batch)
        except nats.errors.ConnectionClosedError:
            return
        except Exception:
            logger.exception("outcome loop error; carrying on")
            await asyncio.sleep(0.5)


async def serve(settings: CoordinatorSettings) -> None:
    """Run the coordinator until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    await run_coordinator(settings, stop)
