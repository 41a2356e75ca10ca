"""A node's life: connect, announce itself, pull and process jobs, leave cleanly."""

import asyncio
import contextlib
import logging
import signal
import time

import nats.errors
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError
from nats.js.kv import KeyValue

from bus import subjects
from bus.connection import close, connect, jetstream
from bus.consumer import StreamingConsumer
from bus.file_store import FileStore
from bus.layout import wait_for_streams
from bus.nodes import nodes_bucket, publish_heartbeat, withdraw
from bus.schemas import Job, NodeStatus
from bus.worker import JobWorker
from node.admission import (
    RECORD_CHECK_TIMEOUT_S,
    AdmittedRunner,
    RecordReader,
    kv_reader,
)
from node.emulation import Emulation
from node.jobs import JobRunner
from node.load import LoadTracker, calibrate
from node.settings import NodeSettings

logger = logging.getLogger(__name__)

VERSION = "0.1.0"
BIND_RETRY_S = 1.0


def job_subscription(settings: NodeSettings) -> tuple[str, str]:
    """(subject, durable consumer) this node pulls from."""
    if settings.tier == "edge":
        node_id = settings.node_id
        return subjects.edge_jobs(node_id), subjects.edge_consumer(node_id)
    return subjects.JOBS_CLOUD, subjects.CLOUD_CONSUMER


async def run_node(settings: NodeSettings, stop: asyncio.Event) -> None:
    """Serve jobs until `stop` is set, then finish in-flight work and leave."""
    emulation = Emulation(settings.emulation)
    calibrated = await asyncio.to_thread(calibrate)
    speed = emulation.reported_speed(calibrated)
    nc = await connect(settings.bus, f"{settings.tier}-node {settings.node_id}")
    js = jetstream(nc)
    # Nodes may not create streams: the coordinator and web lay them out.
    await wait_for_streams(js)

    subject, durable = job_subscription(settings)
    consumer = StreamingConsumer(
        nc,
        js,
        subjects.JOBS_STREAM,
        durable,
        subject,
        Job.decode,
        ack_wait_s=settings.ack_wait_s,
        max_deliver=settings.max_deliver,
    )
    await _bind_when_free(consumer, durable, stop)

    load = LoadTracker(capacity=settings.compute_threads)
    runner = JobRunner(
        nc,
        js,
        FileStore(js),
        settings.node_id,
        settings.tier,
        settings.work_dir,
        settings.compute_threads,
        load,
        emulation,
        jobs_subject=subject,
    )
    leftovers = runner.clear_scratch()
    if leftovers:
        logger.info("removed %d scratch files of an earlier run", leftovers)
    handler = AdmittedRunner(
        runner, await _record_reader(js, settings), settings.max_attempts
    )
    worker = JobWorker(
        consumer,
        handler,
        concurrency=settings.concurrency,
        lease_refresh_s=settings.ack_wait_s / 3,
    )
    kv = await nodes_bucket(js)
    heartbeat = asyncio.create_task(
        _heartbeat_loop(js, kv, settings, consumer, speed, load), name="heartbeat"
    )
    logger.info(
        "%s node %s serving %s (speed %.2f, %d compute threads, emulating %s)",
        settings.tier,
        settings.node_id,
        subject,
        speed,
        settings.compute_threads,
        settings.emulation.describe(),
    )

    try:
        await worker.run(stop, grace_s=settings.shutdown_grace_s)
    finally:
        heartbeat.cancel()
        await asyncio.gather(heartbeat, return_exceptions=True)
        with contextlib.suppress(Exception):
            await withdraw(kv, settings.node_id)
        runner.close()
        await close(nc)
        logger.info(
            "node %s stopped after %d completed, %d failed, %d skipped jobs",
            settings.node_id,
            load.completed,
            load.failed,
            handler.skipped,
        )


async def _record_reader(
    js: JetStreamContext, settings: NodeSettings
) -> RecordReader | None:
    """How this node reads task records, or None when it cannot."""
    if not settings.check_records:
        logger.info("task records are not in NATS; jobs run without a check")
        return None
    try:
        # Bounded: a login without the right to read records gets no answer.
        bucket = js.key_value(subjects.TASKS_BUCKET)
        return kv_reader(await asyncio.wait_for(bucket, RECORD_CHECK_TIMEOUT_S))
    except (nats.errors.Error, APIError, TimeoutError) as error:
        logger.warning("cannot read task records (%s); jobs run unchecked", error)
        return None


async def _heartbeat_loop(
    js: JetStreamContext,
    kv: KeyValue,
    settings: NodeSettings,
    consumer: StreamingConsumer[Job],
    speed: float,
    load: LoadTracker,
) -> None:
    _, durable = job_subscription(settings)
    while True:
        queued = 0
        try:
            info = await js.consumer_info(subjects.JOBS_STREAM, durable)
            queued = info.num_pending or 0
        except NotFoundError:
            await _recreate_consumer(consumer, durable)
        except Exception as error:
            logger.debug("consumer info unavailable: %s", error)

        status = NodeStatus(
            node_id=settings.node_id,
            tier=settings.tier,
            speed=speed,
            backlog_s=load.backlog_s(queued),
            capacity=settings.compute_threads,
            running=load.running,
            queued=queued,
            completed=load.completed,
            failed=load.failed,
            started_at=load.started_at,
            heartbeat_at=time.time(),
            version=VERSION,
        )
        try:
            await publish_heartbeat(kv, status)
        except Exception as error:  # NATS away: the next beat will try again
            logger.warning("heartbeat failed: %s", error)
        await asyncio.sleep(settings.heartbeat_interval_s)


async def _bind_when_free(
    consumer: StreamingConsumer[Job], durable: str, stop: asyncio.Event
) -> None:
    """Bind the job consumer, waiting while the server refuses it.

    A node that comes back while the coordinator still re-plans its old
    queue finds the subject held by the re-plan's own consumer (a work queue
    allows one per subject); that lasts well under a second.
    """
    while True:
        try:
            await consumer.bind()
            return
        except APIError as error:
            if stop.is_set():
                raise
            logger.warning("cannot bind %s yet (%s); trying again", durable, error)
            await asyncio.sleep(BIND_RETRY_S)


async def _recreate_consumer(consumer: StreamingConsumer[Job], durable: str) -> None:
    # The coordinator deletes the consumer of a node it took for dead and
    # re-plans its queue; a node that was only late starts afresh.
    logger.warning("job consumer %s is gone (our queue was re-planned)", durable)
    try:
        await consumer.bind()
    except Exception as error:  # a re-plan may still hold the subject
        logger.warning("could not recreate %s yet: %s", durable, error)


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set `stop` on SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)


async def serve(settings: NodeSettings) -> None:
    """Run a node until a stop signal arrives."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    await run_node(settings, stop)
