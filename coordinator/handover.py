"""A new leader's first step: take the coordinator consumers over afresh.

Messages the previous leader had fetched but not acked would only come back
after the consumer's ack wait (30 s). Recreating the consumers hands them out
again at once. The TASKS consumer is on a work queue, where unacked messages
stay in the stream when their consumer goes, so it is simply recreated. The
EVENTS stream keeps everything, so its consumer is recreated to start just
after its ack floor: events past the floor that were acked already come
again, which is harmless because applying an event twice changes nothing.
"""

import logging

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from bus import subjects

logger = logging.getLogger(__name__)

ACK_WAIT_S = 30.0
MAX_ACK_PENDING = 10_000


async def delete_consumer(js: JetStreamContext, stream: str, durable: str) -> bool:
    """Delete a consumer; False when there was none."""
    try:
        await js.delete_consumer(stream, durable)
    except NotFoundError:
        return False
    return True


async def take_over_consumers(js: JetStreamContext) -> None:
    """Recreate the TASKS and EVENTS consumers so nothing waits on a dead leader."""
    await delete_consumer(
        js, subjects.TASKS_STREAM, subjects.COORDINATOR_TASKS_CONSUMER
    )
    await _restart_after_ack_floor(
        js,
        subjects.EVENTS_STREAM,
        subjects.COORDINATOR_EVENTS_CONSUMER,
        subjects.EVENTS_ALL,
    )


async def _restart_after_ack_floor(
    js: JetStreamContext, stream: str, durable: str, filter_subject: str
) -> None:
    try:
        info = await js.consumer_info(stream, durable)
    except NotFoundError:
        # First start: the consumer is created with the usual settings on bind.
        return
    floor = info.ack_floor.stream_seq if info.ack_floor else 0
    await delete_consumer(js, stream, durable)
    await js.add_consumer(
        stream,
        ConsumerConfig(
            name=durable,
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=(floor or 0) + 1,
            ack_wait=ACK_WAIT_S,
            max_deliver=-1,
            max_ack_pending=MAX_ACK_PENDING,
            filter_subject=filter_subject,
        ),
    )
    logger.info("consumer %s restarted after stream sequence %d", durable, floor)
