"""Runs that repeat, jobs no longer wanted, and jobs tried too often."""

import io
import logging
import random
import time
import uuid

import msgpack
import pytest
from nats.js.api import ObjectStoreConfig, StorageType
from PIL import Image

from bus import subjects
from bus.file_store import FileStore, FileStoreFull
from bus.schemas import Job, TaskRecord
from bus.task_store import KvTaskStore
from node.admission import AdmittedRunner, give_up_reason, kv_reader, stale_reason
from node.emulation import Emulation, EmulationSettings
from node.jobs import JobRunner
from node.load import LoadTracker
from tests.factories import task_record
from tests.node.test_jobs import a_job, png


async def stored_events(js, task_id: str) -> list[dict]:
    """Every event of one task that JetStream kept (what the coordinator reads)."""
    subscription = await js.pull_subscribe(
        subjects.EVENTS_ALL, stream=subjects.EVENTS_STREAM
    )
    found = []
    try:
        while True:
            try:
                messages = await subscription.fetch(1000, timeout=0.5)
            except TimeoutError:
                return found
            for message in messages:
                event = msgpack.unpackb(message.data)
                if event["task_id"] == task_id:
                    found.append(event)
                await message.ack()
    finally:
        await subscription.unsubscribe()


def make_runner(nc, js, tmp_path, files: FileStore) -> JobRunner:
    return JobRunner(
        nc,
        js,
        files,
        "test-node",
        "edge",
        tmp_path,
        1,
        LoadTracker(capacity=1),
        Emulation(EmulationSettings()),
    )


@pytest.fixture
async def runner(nc, js, tmp_path):
    job_runner = make_runner(nc, js, tmp_path, FileStore(js))
    yield job_runner
    job_runner.close()


@pytest.fixture
async def store(js):
    return await KvTaskStore.open(js)


async def scheduled_task(js, store, data: bytes, **fields) -> tuple[Job, TaskRecord]:
    """A stored input and a record placed as attempt 1, with its job."""
    task_id = uuid.uuid4().hex
    await FileStore(js).put_bytes(subjects.input_object(task_id), data, replace=False)
    record = task_record(id=task_id, size=len(data), attempts=1, **fields)
    await store.create(record)
    return a_job(task_id, data), record


def test_stale_reasons_name_every_job_that_must_not_run():
    job = a_job("t", b"x")  # attempt 1

    assert stale_reason(job, task_record(status="placed", attempts=1)) is None
    assert stale_reason(job, task_record(status="running", attempts=1)) is None
    # The placer publishes the job before it writes the record.
    assert stale_reason(job, task_record(status="scheduled", attempts=0)) is None
    assert stale_reason(job, task_record(status="cancelled", attempts=1)) == (
        "the task was cancelled"
    )
    assert "already completed" in stale_reason(
        job, task_record(status="completed", attempts=1)
    )
    assert "replaced by attempt 2" in stale_reason(
        job, task_record(status="placed", attempts=2)
    )
    assert "re-planned" in stale_reason(
        job, task_record(status="scheduled", attempts=1)
    )


def test_a_give_up_names_the_tries_and_the_last_error():
    job = a_job("t", b"x")

    assert give_up_reason(job, 3, task_record(error="edge-a: TimeoutError: slow")) == (
        "gave up after 3 tries of attempt 1: edge-a: TimeoutError: slow"
    )
    assert "without a result" in give_up_reason(job, 3, None)


async def test_a_job_run_twice_reports_once_and_keeps_the_first_result(js, runner):
    data = png(64, 64)
    job = a_job(uuid.uuid4().hex, data)
    await FileStore(js).put_bytes(job.input_object, data, replace=False)

    # The first run's ack never reached the server (its node died): the job
    # comes again as delivery 2 and runs again.
    await runner(job, 1)
    [first] = await FileStore(js).names(subjects.output_prefix(job.task_id))
    first_result = await FileStore(js).read_bytes(first)
    # A server restarted after a crash can even deliver it under the same
    # number again: the run still gets a name of its own.
    await runner(job, 1)
    await runner(job, 2)

    events = await stored_events(js, job.task_id)
    completed = [event for event in events if event["kind"] == "completed"]
    assert len(completed) == 1
    assert completed[0]["output_object"] == first
    assert first.startswith(f"{job.task_id}/output/1-1-")
    names = await FileStore(js).names(subjects.output_prefix(job.task_id))
    assert names == [first]
    assert await FileStore(js).read_bytes(first) == first_result


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "cancelled"}, "the task was cancelled"),
        ({"status": "completed"}, "the task is already completed"),
        ({"attempts": 2, "status": "placed"}, "attempt 1 was replaced by attempt 2"),
    ],
)
async def test_a_job_no_longer_wanted_is_skipped_without_a_word(
    js, store, runner, caplog, change, reason
):
    caplog.set_level(logging.INFO, logger="node.admission")
    job, record = await scheduled_task(js, store, png(64, 64), status="placed")

    def apply(stored: TaskRecord) -> bool:
        for name, value in change.items():
            setattr(stored, name, value)
        return True

    await store.update(record.id, apply)
    admitted = AdmittedRunner(runner, kv_reader(await js.key_value("tasks")), 3)

    await admitted(job, 1)

    assert admitted.skipped == 1
    assert await stored_events(js, job.task_id) == []
    assert await FileStore(js).names(subjects.output_prefix(job.task_id)) == []
    assert f"skipping job for task {job.task_id} (attempt 1, from " in caplog.text
    assert f"): {reason}" in caplog.text


async def test_a_job_of_a_deleted_task_is_skipped(js, store, runner, caplog):
    caplog.set_level(logging.INFO, logger="node.admission")
    job, record = await scheduled_task(js, store, png(64, 64), status="placed")
    await store.delete(record.id)
    admitted = AdmittedRunner(runner, kv_reader(await js.key_value("tasks")), 3)

    await admitted(job, 1)

    assert admitted.skipped == 1
    assert "the task no longer exists" in caplog.text
    assert await stored_events(js, job.task_id) == []


async def test_the_delivery_after_the_last_try_fails_the_task_as_a_dead_letter(
    js, store, runner
):
    job, _ = await scheduled_task(
        js, store, png(64, 64), status="running", error="edge-a: TimeoutError: x"
    )
    admitted = AdmittedRunner(runner, kv_reader(await js.key_value("tasks")), 3)

    await admitted(job, 4)

    [failed] = await stored_events(js, job.task_id)
    assert failed["kind"] == "failed"
    assert failed["error"] == (
        "gave up after 3 tries of attempt 1: edge-a: TimeoutError: x"
    )
    assert failed["dead_letter"] == {"cause": "deliveries", "tries": 3, "attempt": 1}
    assert await FileStore(js).names(subjects.output_prefix(job.task_id)) == []


def noise_png(side: int) -> bytes:
    """Random pixels: they do not compress, so their size is predictable."""
    generator = random.Random(7)
    pixels = bytes(generator.randrange(256) for _ in range(side * side * 3))
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buffer, "PNG")
    return buffer.getvalue()


async def test_a_run_the_bus_refuses_is_handed_back_and_says_why(
    nc, js, store, tmp_path
):
    # A bucket too small for the result: the store refuses the write for real.
    bucket = f"tiny{uuid.uuid4().hex[:8]}"
    await js.create_object_store(
        bucket,
        config=ObjectStoreConfig(storage=StorageType.MEMORY, max_bytes=64 * 1024),
    )
    files = FileStore(js, bucket)
    data = noise_png(16)
    task_id = uuid.uuid4().hex
    await files.put_bytes(subjects.input_object(task_id), data, replace=False)
    await store.create(task_record(id=task_id, attempts=1, status="placed"))
    job = a_job(task_id, data, operation="resize", params={"width": 400})
    runner = make_runner(nc, js, tmp_path, files)
    admitted = AdmittedRunner(runner, kv_reader(await js.key_value("tasks")), 3)
    try:
        with pytest.raises(FileStoreFull):
            await admitted(job, 1)
    finally:
        runner.close()
        await js.delete_object_store(bucket)

    [retrying] = [
        event
        for event in await stored_events(js, task_id)
        if event["kind"] == "retrying"
    ]
    assert retrying["error"].startswith("test-node: FileStoreFull: the file store")
    assert "maximum bytes exceeded" in retrying["error"]
    assert retrying["delivery"] == 1
    assert time.time() - retrying["at"] < 30
