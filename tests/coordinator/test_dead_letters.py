"""Jobs JetStream gave up on, and results no record took, on a real server."""

import asyncio
import contextlib
import time
import uuid

from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

from bus import subjects
from bus.consumer import PullConsumer
from bus.file_store import FileStore
from bus.nodes import NodeDirectory, nodes_bucket
from bus.schemas import Job, TaskEvent
from bus.task_store import KvTaskStore
from coordinator.dead_letters import DeliveryLimitWatcher
from coordinator.outcomes import OutcomeRecorder
from policy.cost_model import CostModel
from tests.e2e.system import wait_until
from tests.factories import task_record


def a_job(task_id: str, node_id: str) -> Job:
    return Job(
        task_id=task_id,
        attempt=1,
        kind="image",
        operation="grayscale",
        params={},
        input_object=subjects.input_object(task_id),
        output_object=subjects.output_object(task_id),
        filename="a.png",
        content_type="image/png",
        size=1,
        tier="edge",
        node_id=node_id,
        dispatched_at=time.time(),
    )


async def test_a_job_jetstream_gave_up_on_fails_its_task_and_leaves_the_queue(nc, js):
    store = await KvTaskStore.open(js)
    node_id = f"gone{uuid.uuid4().hex[:8]}"
    task_id = uuid.uuid4().hex
    await store.create(
        task_record(
            id=task_id, status="running", attempts=1, error="edge-x: Timeout: slow"
        )
    )
    watcher = DeliveryLimitWatcher(nc, js, store)
    await watcher.start()
    # A node that takes the job twice and dies each time, as far as
    # JetStream can tell: deliveries run out without an ack.
    durable = subjects.edge_consumer(node_id)
    subscription = await js.pull_subscribe(
        subjects.edge_jobs(node_id),
        durable=durable,
        stream=subjects.JOBS_STREAM,
        config=ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=0.5,
            max_deliver=2,
        ),
    )
    try:
        await js.publish(subjects.edge_jobs(node_id), a_job(task_id, node_id).encode())
        for _ in range(2):
            [taken] = await subscription.fetch(1, timeout=5)
            assert taken.metadata.num_delivered in (1, 2)
        # The server notices the limit when it next looks for a message to
        # hand out, as it does for a node's open pull request.
        with contextlib.suppress(TimeoutError):
            await subscription.fetch(1, timeout=2)

        async def failed():
            record = await store.get(task_id)
            return record if record.status == "failed" else None

        record = await wait_until(failed, 15, "the task to fail")
        jobs = await js.stream_info(
            subjects.JOBS_STREAM, subjects_filter=subjects.edge_jobs(node_id)
        )
    finally:
        await watcher.stop()
        await subscription.unsubscribe()
        await js.delete_consumer(subjects.JOBS_STREAM, durable)

    assert record.error == (
        "gave up after 2 deliveries of attempt 1: edge-x: Timeout: slow"
    )
    assert record.dead_letter["cause"] == "max_deliveries"
    assert record.dead_letter["tries"] == 2
    assert record.dead_letter["node_id"] == node_id
    assert not jobs.state.subjects
    assert watcher.given_up_count == 1


async def test_results_of_completions_the_record_did_not_take_are_removed(nc, js):
    store = await KvTaskStore.open(js)
    files = FileStore(js)
    task_id = uuid.uuid4().hex
    kept, repeat = (subjects.run_output_object(task_id, 1, f"{n}-ab12") for n in (1, 2))
    for name in (kept, repeat):
        await files.put_bytes(name, b"result")
    await store.create(task_record(id=task_id, status="running", attempts=1))

    def completed(output_object: str) -> TaskEvent:
        return TaskEvent(
            kind="completed",
            task_id=task_id,
            attempt=1,
            node_id="e1",
            tier="edge",
            at=time.time(),
            completed_at=time.time(),
            output_object=output_object,
        )

    # A stream of our own, so the test reads only its own events.
    name = f"OUTCOMES{uuid.uuid4().hex[:8]}"
    subject = f"outcomes.{name}"
    await js.add_stream(StreamConfig(name=name, subjects=[subject]))
    consumer = PullConsumer(js, name, "test", subject, TaskEvent.decode)
    directory = NodeDirectory(await nodes_bucket(js), 3.0)
    recorder = OutcomeRecorder(store, directory, CostModel(), files=files)
    try:
        for event in (completed(kept), completed(repeat), completed(kept)):
            await js.publish(subject, event.encode())
        batch = await consumer.fetch(10, wait_s=2)
        await recorder.record(batch)
        await asyncio.sleep(0)
    finally:
        await consumer.close()
        await js.delete_stream(name)

    record = await store.get(task_id)
    assert record.status == "completed" and record.output_object == kept
    assert await files.names(subjects.output_prefix(task_id)) == [kept]
    assert recorder.discarded_outputs == 1
