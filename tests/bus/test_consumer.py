"""The streaming consumer: prompt hand-over, bounded debt, renewed and lost pulls."""

import asyncio
import logging
import time
import uuid

from nats.js.api import StreamConfig

from bus import subjects
from bus.consumer import Delivery, PullConsumer, StreamingConsumer, settle
from bus.schemas import Job
from tests.bus.test_worker import a_job
from tests.e2e.system import wait_until


def a_consumer(nc, js, node_id: str, **options) -> StreamingConsumer[Job]:
    return StreamingConsumer(
        nc,
        js,
        subjects.JOBS_STREAM,
        subjects.edge_consumer(node_id),
        subjects.edge_jobs(node_id),
        Job.decode,
        **options,
    )


class Receiver:
    """Takes deliveries into a list; its room is set by the test."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.got: list[Delivery[Job]] = []
        self.at: list[float] = []

    def free(self) -> int:
        return self.room - len(self.got)

    def __call__(self, delivery: Delivery[Job]) -> None:
        self.got.append(delivery)
        self.at.append(time.monotonic())


async def test_a_lone_message_is_handed_over_at_once_not_when_a_batch_fills(nc, js):
    node_id = f"s{uuid.uuid4().hex[:8]}"
    consumer = a_consumer(nc, js, node_id)
    receiver = Receiver(room=8)
    await consumer.start(receiver.free, receiver)
    try:
        published_at = time.monotonic()
        await js.publish(subjects.edge_jobs(node_id), a_job("alone").encode())
        await wait_until(lambda: asyncio.sleep(0, receiver.got), 5, "the job", 0.01)
    finally:
        await consumer.close()

    # The pull asked for 8 and expires after 5 s; the job came long before.
    assert receiver.at[0] - published_at < 2.0
    assert [d.item.task_id for d in receiver.got] == ["alone"]


async def test_never_takes_more_than_the_receiver_has_room_for(nc, js):
    node_id = f"s{uuid.uuid4().hex[:8]}"
    consumer = a_consumer(nc, js, node_id)
    receiver = Receiver(room=3)
    for index in range(10):
        await js.publish(subjects.edge_jobs(node_id), a_job(f"j{index}").encode())
    await consumer.start(receiver.free, receiver)
    try:
        await wait_until(lambda: asyncio.sleep(0, len(receiver.got) == 3), 5, "3")
        await asyncio.sleep(0.3)
        assert len(receiver.got) == 3

        for delivery in receiver.got:
            await settle(delivery.msg.ack())
        receiver.room = 10
        consumer.pull()
        await wait_until(lambda: asyncio.sleep(0, len(receiver.got) == 10), 5, "10")
        for delivery in receiver.got[3:]:
            await settle(delivery.msg.ack())
    finally:
        await consumer.close()

    assert [d.item.task_id for d in receiver.got] == [f"j{i}" for i in range(10)]
    info = await js.consumer_info(subjects.JOBS_STREAM, subjects.edge_consumer(node_id))
    assert info.num_pending == 0 and info.num_redelivered == 0


async def test_expired_pulls_are_renewed_without_running_up_a_debt(nc, js):
    node_id = f"s{uuid.uuid4().hex[:8]}"
    consumer = a_consumer(nc, js, node_id, pull_expires_s=0.3)
    receiver = Receiver(room=4)
    await consumer.start(receiver.free, receiver)
    try:
        await asyncio.sleep(1.5)  # several pulls expire (408) and are renewed
        assert consumer.owed == 4
        await js.publish(subjects.edge_jobs(node_id), a_job("late").encode())
        await wait_until(lambda: asyncio.sleep(0, receiver.got), 5, "the job", 0.01)
    finally:
        await consumer.close()

    assert [d.item.task_id for d in receiver.got] == ["late"]


async def test_binding_again_after_the_consumer_was_deleted_resumes_delivery(nc, js):
    node_id = f"s{uuid.uuid4().hex[:8]}"
    durable = subjects.edge_consumer(node_id)
    consumer = a_consumer(nc, js, node_id)
    receiver = Receiver(room=4)
    await consumer.start(receiver.free, receiver)
    try:
        await js.delete_consumer(subjects.JOBS_STREAM, durable)
        await asyncio.sleep(0.3)  # the open pull ends with a 409
        await consumer.bind()
        await js.publish(subjects.edge_jobs(node_id), a_job("after").encode())
        await wait_until(lambda: asyncio.sleep(0, receiver.got), 5, "the job", 0.01)
    finally:
        await consumer.close()

    assert [d.item.task_id for d in receiver.got] == ["after"]


async def test_garbage_is_terminated_and_its_room_pulled_again(nc, js):
    node_id = f"s{uuid.uuid4().hex[:8]}"
    consumer = a_consumer(nc, js, node_id)
    receiver = Receiver(room=1)
    await js.publish(subjects.edge_jobs(node_id), b"\x00not a job")
    await js.publish(subjects.edge_jobs(node_id), a_job("good").encode())
    await consumer.start(receiver.free, receiver)
    try:
        await wait_until(lambda: asyncio.sleep(0, receiver.got), 5, "the job", 0.01)
        await settle(receiver.got[0].msg.ack())
    finally:
        await consumer.close()

    assert [d.item.task_id for d in receiver.got] == ["good"]
    info = await js.consumer_info(subjects.JOBS_STREAM, subjects.edge_consumer(node_id))
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_a_consumer_deleted_under_a_streaming_consumer_is_made_again(
    nc, js, caplog
):
    caplog.set_level(logging.INFO, logger="bus.consumer")
    node_id = f"s{uuid.uuid4().hex[:8]}"
    durable = subjects.edge_consumer(node_id)
    consumer = a_consumer(nc, js, node_id)
    receiver = Receiver(room=4)
    await consumer.start(receiver.free, receiver)
    try:
        # As a server that lost its state would: nobody binds it again.
        await js.delete_consumer(subjects.JOBS_STREAM, durable)
        await js.publish(subjects.edge_jobs(node_id), a_job("after").encode())
        await wait_until(lambda: asyncio.sleep(0, receiver.got), 10, "the job", 0.01)
    finally:
        await consumer.close()

    assert [d.item.task_id for d in receiver.got] == ["after"]
    # Once when it started, once more after the deletion.
    assert caplog.text.count(f"consumer {durable} created on JOBS") == 2


async def test_a_consumer_deleted_under_a_pull_consumer_is_bound_again(js, caplog):
    stream = f"REBIND{uuid.uuid4().hex[:8]}"
    subject = f"rebind.{stream}"
    await js.add_stream(StreamConfig(name=stream, subjects=[subject]))
    consumer = PullConsumer(js, stream, "reader", subject, Job.decode)
    try:
        await consumer.bind()
        await js.delete_consumer(stream, "reader")
        await js.publish(subject, a_job("after").encode())

        async def fetched() -> list:
            return await consumer.fetch(1, wait_s=0.5)

        [delivery] = await wait_until(fetched, 10, "the job")
        await settle(delivery.msg.ack())
    finally:
        await consumer.close()
        await js.delete_stream(stream)

    assert delivery.item.task_id == "after"
    assert "consumer reader is gone; binding it again" in caplog.text
