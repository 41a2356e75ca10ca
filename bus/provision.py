"""Create the streams, buckets and object store the system needs.

Every call is idempotent and safe when several services start at once: a
resource that already exists (made by us or a concurrent peer) is accepted as
long as it has the subjects we need.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import APIError, NotFoundError

from bus import subjects
from bus.settings import BusSettings

logger = logging.getLogger(__name__)

STREAM_ALREADY_IN_USE = 10058

LEADER_TTL_S = 3.0
"""How long the coordinator leader key outlives its holder's last refresh."""


def stream_configs(settings: BusSettings) -> list[StreamConfig]:
    """The three streams: TASKS and JOBS as work queues, EVENTS as a log."""
    return [
        StreamConfig(
            name=subjects.TASKS_STREAM,
            subjects=[subjects.TASKS_SCHEDULED],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            num_replicas=settings.replicas,
            duplicate_window=120,
        ),
        StreamConfig(
            name=subjects.JOBS_STREAM,
            subjects=[f"{subjects.JOBS_EDGE_PREFIX}.*", subjects.JOBS_CLOUD],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            num_replicas=settings.replicas,
            duplicate_window=120,
        ),
        StreamConfig(
            name=subjects.EVENTS_STREAM,
            subjects=[subjects.EVENTS_ALL],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            num_replicas=settings.replicas,
            max_age=settings.events_max_age_s,
            max_bytes=1024 * 1024 * 1024,
            discard=DiscardPolicy.OLD,
        ),
    ]


async def provision(js: JetStreamContext, settings: BusSettings) -> None:
    """Make sure every stream, bucket and the object store exist."""
    for config in stream_configs(settings):
        await _ensure(
            f"stream {config.name}",
            lambda config=config: js.add_stream(config),
            lambda config=config: _update_stream(js, config),
        )

    # Direct gets may be answered by any replica, and a replica can lag the
    # write that was just acknowledged: the coordinator reading a record the
    # web service has only just created could be told it does not exist, and
    # drop the task. With replicas, task records are read from the leader.
    await _ensure_bucket(
        js,
        KeyValueConfig(
            bucket=subjects.TASKS_BUCKET,
            history=1,
            replicas=settings.replicas,
            storage=StorageType.FILE,
            direct=settings.replicas == 1,
        ),
    )
    await _ensure_bucket(
        js,
        KeyValueConfig(
            bucket=subjects.NODES_BUCKET,
            history=1,
            ttl=settings.node_ttl_s,
            replicas=settings.replicas,
            storage=StorageType.MEMORY,
            direct=True,
        ),
    )
    await _ensure_bucket(
        js,
        KeyValueConfig(
            bucket=subjects.POLICY_BUCKET,
            history=5,
            replicas=settings.replicas,
            storage=StorageType.FILE,
            max_value_size=64 * 1024 * 1024,
        ),
    )
    await _ensure_bucket(
        js,
        KeyValueConfig(
            bucket=subjects.LEADER_BUCKET,
            history=1,
            ttl=LEADER_TTL_S,
            replicas=settings.replicas,
            storage=StorageType.MEMORY,
        ),
    )
    await _ensure(
        f"object store {subjects.FILES_BUCKET}",
        lambda: js.create_object_store(
            subjects.FILES_BUCKET,
            config=ObjectStoreConfig(
                storage=StorageType.FILE, replicas=settings.replicas
            ),
        ),
        None,
    )
    logger.info("JetStream streams and buckets are ready")


async def _update_stream(js: JetStreamContext, config: StreamConfig) -> None:
    # A service started with a smaller NATS_REPLICAS than the cluster's (an
    # edge site left at the default 1, say) must not strip the replicas
    # away: raising the count is an update, lowering it an operator's act.
    current = await js.stream_info(config.name)
    existing = current.config.num_replicas or 1
    wanted = config.num_replicas or 1
    if existing > wanted:
        logger.warning(
            "stream %s keeps its %d replicas; this service asked for %d "
            "(set NATS_REPLICAS=%d everywhere)",
            config.name,
            existing,
            wanted,
            existing,
        )
        config = replace(config, num_replicas=existing)
    await js.update_stream(config)


async def _ensure_bucket(js: JetStreamContext, config: KeyValueConfig) -> None:
    await _ensure(f"bucket {config.bucket}", lambda: js.create_key_value(config), None)


async def _ensure(
    what: str,
    create: Callable[[], Awaitable[object]],
    update: Callable[[], Awaitable[object]] | None,
) -> None:
    try:
        await create()
        logger.debug("%s ready", what)
        return
    except APIError as error:
        if error.err_code != STREAM_ALREADY_IN_USE:
            raise

    # It exists with other settings: streams we own are brought up to date,
    # buckets made by an older version are accepted as they are.
    if update is not None:
        await update()
        logger.info("%s updated to the current configuration", what)
    else:
        logger.info("%s exists with other settings; using it as it is", what)


async def streams_ready(js: JetStreamContext) -> bool:
    """Whether every stream this system uses exists (for readiness checks)."""
    names = [subjects.TASKS_STREAM, subjects.JOBS_STREAM, subjects.EVENTS_STREAM]
    names += [f"KV_{subjects.TASKS_BUCKET}", f"OBJ_{subjects.FILES_BUCKET}"]
    try:
        for name in names:
            await js.stream_info(name)
    except NotFoundError:
        return False
    return True
