"""A node coming back while its old queue is still being re-planned."""

import asyncio
import uuid

from nats.js.api import AckPolicy, ConsumerConfig

from bus import subjects
from bus.consumer import StreamingConsumer
from bus.schemas import Job
from node.service import _bind_when_free


async def test_a_node_binds_its_queue_once_the_replan_lets_go_of_it(nc, js, caplog):
    node_id = f"back{uuid.uuid4().hex[:8]}"
    subject = subjects.edge_jobs(node_id)
    replan = f"{subjects.REPLAN_CONSUMER_PREFIX}-{node_id}"
    # What the coordinator's re-plan holds while it drains the queue: a work
    # queue allows one consumer per subject, so the node's is refused.
    await js.add_consumer(
        subjects.JOBS_STREAM,
        ConsumerConfig(
            durable_name=replan, ack_policy=AckPolicy.EXPLICIT, filter_subject=subject
        ),
    )
    durable = subjects.edge_consumer(node_id)
    consumer = StreamingConsumer(
        nc, js, subjects.JOBS_STREAM, durable, subject, Job.decode
    )
    binding = asyncio.create_task(_bind_when_free(consumer, durable, asyncio.Event()))
    try:
        await asyncio.sleep(1.5)
        assert not binding.done()
        await js.delete_consumer(subjects.JOBS_STREAM, replan)
        await asyncio.wait_for(binding, 5)
        info = await js.consumer_info(subjects.JOBS_STREAM, durable)
    finally:
        binding.cancel()
        await consumer.close()
        await js.delete_consumer(subjects.JOBS_STREAM, durable)

    assert info.config.filter_subject == subject
    assert f"cannot bind {durable} yet" in caplog.text
