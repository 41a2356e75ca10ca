"""Coordinator and nodes as real processes: placement, processing, bad files."""

import asyncio
import io
import time
import uuid

import pytest
from PIL import Image

from bus.connection import close, connect, jetstream
from bus.file_store import FileStore
from bus.nats_server import wait_for_jetstream
from bus.nodes import NodeDirectory, nodes_bucket
from bus.provision import provision
from bus.schemas import ScheduledTask, TaskRecord
from bus.settings import BusSettings
from bus.subjects import TASKS_SCHEDULED, input_object
from bus.task_store import KvTaskStore
from tests.e2e.system import start_system, wait_until


@pytest.fixture(scope="module")
async def backend():
    """A nats-server with a coordinator, one edge and one cloud node running."""
    system = start_system()
    system.start("coordinator", "coordinator", POLICY="greedy")
    system.start("edge", "edge_node", NODE_ID="edge-a")
    system.start("cloud", "cloud_node", NODE_ID="cloud-a")
    settings = BusSettings(nats_url=system.server.url, node_ttl_s=3.0)
    await wait_for_jetstream(settings.nats_url)
    nc = await connect(settings, "e2e-test")
    js = jetstream(nc)
    await provision(js, settings)
    directory = NodeDirectory(await nodes_bucket(js), 3.0)
    await directory.start()
    await wait_until(
        lambda: asyncio.sleep(0, len(directory.live()) == 2), 60, "two live nodes"
    )
    try:
        yield system, js, await KvTaskStore.open(js), FileStore(js)
    finally:
        await directory.close()
        await close(nc)
        system.shutdown()


async def submit(js, store, files, data: bytes, name: str, kind: str, op: str, **p):
    """Do what the web service does on upload and schedule."""
    task_id = uuid.uuid4().hex
    stored = await files.put_bytes(input_object(task_id), data)
    content_type = "image/jpeg" if name.endswith(".jpg") else "image/png"
    if kind == "video":
        content_type = "video/mp4"
    await store.create(
        TaskRecord(
            id=task_id,
            filename=name,
            content_type=content_type,
            kind=kind,
            size=stored.size,
            sha256=stored.sha256,
            operation=op,
            params=p,
            uploaded_at=time.time(),
        )
    )
    await js.publish(TASKS_SCHEDULED, ScheduledTask(task_id, time.time()).encode())
    return task_id


async def finished(store, task_id: str) -> TaskRecord | None:
    record = await store.get(task_id)
    return record if record.is_final else None


async def test_image_task_is_placed_processed_and_recorded(backend, media_dir):
    _, js, store, files = backend
    data = (media_dir / "coffee.png").read_bytes()

    task_id = await submit(js, store, files, data, "coffee.png", "image", "grayscale")
    record = await wait_until(lambda: finished(store, task_id), 60, "completion")

    assert record.status == "completed", record.error
    assert record.tier in ("edge", "cloud")
    assert record.node_id in ("edge-a", "cloud-a")
    assert record.explanation["policy"] == "greedy"
    assert record.picked_at >= record.scheduled_at
    assert record.completed_at >= record.started_at >= record.picked_at - 0.01
    assert record.total_ms > 0 and record.compute_ms > 0
    assert record.output_object.startswith(f"{task_id}/output/1-1-")
    output = Image.open(io.BytesIO(await files.read_bytes(record.output_object)))
    assert output.size == (600, 400)
    assert output.mode == "L"


async def test_truncated_jpeg_fails_with_reason_and_node_keeps_serving(
    backend, media_dir
):
    system, js, store, files = backend
    buffer = io.BytesIO()
    Image.open(media_dir / "coffee.png").convert("RGB").save(buffer, "JPEG")
    truncated = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    not_video = b"this is plain text, not a video at all\n" * 50

    bad_image = await submit(js, store, files, truncated, "cut.jpg", "image", "blur")
    bad_video = await submit(
        js, store, files, not_video, "fake.mp4", "video", "transcode", codec="h264"
    )
    good = await submit(
        js,
        store,
        files,
        (media_dir / "chelsea.png").read_bytes(),
        "c.png",
        "image",
        "grayscale",
    )

    bad_image_record = await wait_until(lambda: finished(store, bad_image), 60, "jpeg")
    bad_video_record = await wait_until(lambda: finished(store, bad_video), 60, "mp4")
    good_record = await wait_until(lambda: finished(store, good), 60, "good image")

    assert bad_image_record.status == "failed"
    assert "truncated" in bad_image_record.error or "decode" in bad_image_record.error
    assert bad_video_record.status == "failed"
    assert "video" in bad_video_record.error
    assert good_record.status == "completed"
    assert system.processes["edge"].poll() is None, system.log("edge")[-3000:]
    assert system.processes["cloud"].poll() is None


async def test_malformed_messages_are_dropped_without_stalling(backend, media_dir):
    system, js, store, files = backend
    await js.publish(TASKS_SCHEDULED, b"\xc1 definitely not msgpack")
    await js.publish(TASKS_SCHEDULED, b"\x81\xa1x\x01")  # a map without fields
    await js.publish("jobs.cloud", b"garbage")
    await js.publish("events.task.completed", b"\x93\x01\x02\x03")

    task_id = await submit(
        js,
        store,
        files,
        (media_dir / "chelsea.png").read_bytes(),
        "c.png",
        "image",
        "edges",
    )
    record = await wait_until(lambda: finished(store, task_id), 60, "completion")

    assert record.status == "completed"
    assert "dropping message on tasks.scheduled" in system.log("coordinator")
    await wait_until(
        lambda: asyncio.sleep(
            0, "dropping message on jobs.cloud" in system.log("cloud")
        ),
        10,
        "the cloud node to drop the garbage job",
    )
    assert system.processes["cloud"].poll() is None
