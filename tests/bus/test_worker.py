"""The shared job loop: leases, retries, malformed messages, concurrency."""

import asyncio
import time
import uuid

from bus import subjects
from bus.consumer import StreamingConsumer
from bus.schemas import Job
from bus.worker import JobWorker
from tests.e2e.system import wait_until


def a_job(task_id: str) -> Job:
    return Job(
        task_id=task_id,
        attempt=1,
        kind="image",
        operation="grayscale",
        params={},
        input_object=f"{task_id}/input",
        output_object=f"{task_id}/output",
        filename="a.png",
        content_type="image/png",
        size=1,
        tier="edge",
        node_id="n",
        dispatched_at=time.time(),
    )


async def run_worker(nc, js, node_id, handler, stop, ack_wait_s=1.0, concurrency=2):
    consumer = StreamingConsumer(
        nc,
        js,
        subjects.JOBS_STREAM,
        subjects.edge_consumer(node_id),
        subjects.edge_jobs(node_id),
        Job.decode,
        ack_wait_s=ack_wait_s,
    )
    worker = JobWorker(consumer, handler, concurrency, lease_refresh_s=0.3)
    return asyncio.create_task(worker.run(stop, grace_s=5))


async def test_a_job_longer_than_its_ack_wait_keeps_its_lease(nc, js):
    node_id = f"w{uuid.uuid4().hex[:8]}"
    calls: list[int] = []

    async def slow(job: Job, attempt: int) -> None:
        calls.append(attempt)
        await asyncio.sleep(2.5)

    stop = asyncio.Event()
    loop = await run_worker(nc, js, node_id, slow, stop, ack_wait_s=1.0)
    await js.publish(subjects.edge_jobs(node_id), a_job("long").encode())
    await asyncio.sleep(4)
    stop.set()
    await loop

    info = await js.consumer_info(subjects.JOBS_STREAM, subjects.edge_consumer(node_id))
    assert calls == [1]
    assert info.num_ack_pending == 0 and info.num_redelivered == 0


async def test_a_failing_handler_is_retried_and_garbage_does_not_block(nc, js):
    node_id = f"w{uuid.uuid4().hex[:8]}"
    seen: list[tuple[str, int]] = []

    async def flaky(job: Job, attempt: int) -> None:
        seen.append((job.task_id, attempt))
        if job.task_id == "flaky" and attempt == 1:
            raise ConnectionError("store briefly away")

    stop = asyncio.Event()
    loop = await run_worker(nc, js, node_id, flaky, stop)
    await js.publish(subjects.edge_jobs(node_id), b"\x00not a job")
    await js.publish(subjects.edge_jobs(node_id), a_job("flaky").encode())
    await js.publish(subjects.edge_jobs(node_id), a_job("fine").encode())
    await wait_until(
        lambda: asyncio.sleep(0, ("flaky", 2) in seen), 10, "the retry", 0.05
    )
    stop.set()
    await loop

    assert ("fine", 1) in seen
    assert ("flaky", 1) in seen and ("flaky", 2) in seen
    info = await js.consumer_info(subjects.JOBS_STREAM, subjects.edge_consumer(node_id))
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_concurrency_is_bounded(nc, js):
    node_id = f"w{uuid.uuid4().hex[:8]}"
    running = 0
    peak = 0
    done = 0

    async def busy(job: Job, attempt: int) -> None:
        nonlocal running, peak, done
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1
        done += 1

    stop = asyncio.Event()
    loop = await run_worker(nc, js, node_id, busy, stop, concurrency=3)
    for index in range(12):
        await js.publish(subjects.edge_jobs(node_id), a_job(f"j{index}").encode())
    await wait_until(lambda: asyncio.sleep(0, done == 12), 10, "12 jobs", 0.05)
    stop.set()
    await loop

    assert done == 12
    assert peak == 3
