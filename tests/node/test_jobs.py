"""One job end to end on a real bus: events, stored output, failures with reasons."""

import asyncio
import io
import time
import uuid

import msgpack
import pytest
from PIL import Image

from bus import subjects
from bus.file_store import CHUNK_BYTES, FileStore
from bus.schemas import Job
from node.emulation import Emulation, EmulationSettings
from node.jobs import JobRunner
from node.load import LoadTracker


def a_job(task_id: str, data: bytes, kind: str = "image", **fields) -> Job:
    return Job(
        task_id=task_id,
        attempt=1,
        kind=kind,
        operation=fields.pop("operation", "grayscale"),
        params=fields.pop("params", {}),
        input_object=subjects.input_object(task_id),
        output_object=subjects.output_object(task_id),
        filename=fields.pop("filename", "photo.png"),
        content_type=fields.pop("content_type", "image/png"),
        size=len(data),
        tier="edge",
        node_id="test-node",
        dispatched_at=time.time(),
    )


@pytest.fixture
async def runner(nc, js, tmp_path):
    load = LoadTracker(capacity=1)
    job_runner = JobRunner(
        nc,
        js,
        FileStore(js),
        "test-node",
        "edge",
        tmp_path,
        1,
        load,
        Emulation(EmulationSettings()),
    )
    yield job_runner
    job_runner.close()


class Events:
    """Every task event of one task, as the coordinator would see them."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.seen: list[dict] = []

    async def follow(self, nc):
        async def add(msg) -> None:
            event = msgpack.unpackb(msg.data)
            if event["task_id"] == self.task_id:
                self.seen.append(event)

        return await nc.subscribe(subjects.EVENTS_ALL, cb=add)

    async def final(self) -> dict:
        for _ in range(200):
            for event in self.seen:
                if event["kind"] in ("completed", "failed"):
                    return event
            await asyncio.sleep(0.02)
        raise AssertionError(f"no final event for {self.task_id}: {self.seen}")


async def run_job(nc, js, runner, job: Job, data: bytes) -> tuple[Events, dict]:
    await FileStore(js).put_bytes(job.input_object, data, replace=False)
    events = Events(job.task_id)
    subscription = await events.follow(nc)
    try:
        await runner(job, 1)
        final = await events.final()
    finally:
        await subscription.unsubscribe()
    return events, final


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.radial_gradient("L").resize((width, height)).convert("RGB").save(
        buffer, "PNG"
    )
    return buffer.getvalue()


@pytest.mark.parametrize("side", [64, 300])  # on the event loop; on a thread
async def test_an_image_job_reports_started_then_completed_and_stores_it(
    nc, js, runner, side
):
    data = png(side, side)
    job = a_job(uuid.uuid4().hex, data)

    events, completed = await run_job(nc, js, runner, job, data)

    kinds = [event["kind"] for event in events.seen]
    assert kinds == ["started", "completed"]
    assert completed["started_at"] <= completed["completed_at"]
    assert completed["output_type"] == "image/png"
    assert completed["output_object"].startswith(f"{job.task_id}/output/1-1-")
    output = await FileStore(js).read_bytes(completed["output_object"])
    assert completed["output_size"] == len(output)
    assert Image.open(io.BytesIO(output)).mode == "L"
    assert Image.open(io.BytesIO(output)).size == (side, side)


async def test_a_big_input_is_streamed_through_files(nc, js, runner, media_dir):
    data = (media_dir / "astronaut.png").read_bytes()
    assert len(data) > CHUNK_BYTES
    job = a_job(uuid.uuid4().hex, data, operation="thumbnail", params={"size": 64})

    _, completed = await run_job(nc, js, runner, job, data)

    assert completed["kind"] == "completed"
    output = await FileStore(js).read_bytes(completed["output_object"])
    assert max(Image.open(io.BytesIO(output)).size) == 64


async def test_a_corrupt_image_fails_its_task_with_a_reason(nc, js, runner):
    data = png(64, 64)[:200]
    job = a_job(uuid.uuid4().hex, data)

    events, failed = await run_job(nc, js, runner, job, data)

    assert failed["kind"] == "failed"
    assert "image" in failed["error"]
    assert [event["kind"] for event in events.seen] == ["started", "failed"]


async def test_a_missing_input_fails_its_task_with_a_reason(nc, js, runner):
    job = a_job(uuid.uuid4().hex, b"never stored")
    events = Events(job.task_id)
    subscription = await events.follow(nc)
    try:
        await runner(job, 1)
        failed = await events.final()
    finally:
        await subscription.unsubscribe()

    assert failed["kind"] == "failed"
    assert failed["error"].startswith("input unavailable")


async def test_a_video_job_reports_progress_before_completing(
    nc, js, runner, media_dir
):
    data = (media_dir / "chelsea-pan.mp4").read_bytes()
    job = a_job(
        uuid.uuid4().hex,
        data,
        kind="video",
        operation="grayscale",
        filename="clip.mp4",
        content_type="video/mp4",
    )

    events, completed = await run_job(nc, js, runner, job, data)

    kinds = [event["kind"] for event in events.seen]
    assert kinds[0] == "started" and kinds[-1] == "completed"
    progress = [
        event["progress"] for event in events.seen if event["kind"] == "progress"
    ]
    assert progress and all(0 < fraction < 1 for fraction in progress)
    assert completed["output_type"] == "video/mp4"
