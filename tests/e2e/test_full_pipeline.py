"""The whole system as a user meets it: HTTP upload, schedule, process, download."""

import asyncio
import io

import aiohttp
import av
import pytest
from PIL import Image

from tests.e2e.system import start_system, wait_until, web_ready


@pytest.fixture(scope="module")
async def system():
    """nats-server, coordinator, web, one edge and one cloud node."""
    running = start_system()
    running.start("coordinator", "coordinator", POLICY="greedy")
    running.start("web", "web")
    running.start("edge", "edge_node", NODE_ID="edge-1")
    running.start("cloud", "cloud_node", NODE_ID="cloud-1")
    try:
        async with aiohttp.ClientSession() as session:
            await wait_until(lambda: web_ready(session, running.web_url), 60, "web")

            async def both_nodes() -> bool:
                async with session.get(f"{running.web_url}/api/v1/nodes") as reply:
                    return len((await reply.json())["nodes"]) == 2

            await wait_until(both_nodes, 60, "both nodes to heartbeat")
        yield running
    finally:
        running.shutdown()


async def upload(session, url, path, operation, **params) -> dict:
    form = aiohttp.FormData()
    form.add_field("conversionType", operation)
    for name, value in params.items():
        form.add_field(name, str(value))
    form.add_field("files", path.read_bytes(), filename=path.name)
    async with session.post(f"{url}/upload", data=form) as response:
        assert response.status == 201, await response.text()
        (task,) = (await response.json())["tasks"]
        return task


async def wait_done(session, url, task_id) -> dict:
    async def done():
        async with session.get(f"{url}/computed_at/{task_id}") as response:
            body = await response.json()
            return body if body["status"] in ("completed", "failed") else None

    return await wait_until(done, 120, f"task {task_id}", interval_s=0.2)


async def test_photo_and_video_flow_from_upload_to_download(system, media_dir):
    url = system.web_url
    async with aiohttp.ClientSession() as session:
        photo = await upload(session, url, media_dir / "astronaut.png", "grayscale")
        clip = await upload(
            session, url, media_dir / "chelsea-pan.mp4", "transcode", codec="vp9"
        )
        assert photo["status"] == clip["status"] == "uploaded"

        async with session.post(f"{url}/schedule-tasks") as response:
            assert (await response.json())["scheduled"] == 2

        for task in (photo, clip):
            placed = await wait_done(session, url, task["id"])
            assert placed["status"] == "completed", placed
            assert placed["assigned_to"] in ("edge", "cloud")

        async with session.get(f"{url}/files/{photo['id']}") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "image/png"
            image = Image.open(io.BytesIO(await response.read()))
        async with session.get(f"{url}/files/{clip['id']}") as response:
            assert response.status == 200
            assert "attachment" in response.headers["Content-Disposition"]
            video_bytes = await response.read()
        async with session.get(f"{url}/files/{clip['id']}?version=input") as response:
            original = await response.read()
        async with session.get(f"{url}/api/v1/tasks/{clip['id']}") as response:
            record = await response.json()

    assert image.size == (512, 512)
    assert image.mode == "L" or _channels_equal(image)

    with av.open(io.BytesIO(video_bytes)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "vp9"
        frames = sum(1 for _ in container.decode(stream))
    assert frames == 48
    assert original == (media_dir / "chelsea-pan.mp4").read_bytes()

    assert record["output_type"] == "video/webm"
    assert record["node_id"] in ("edge-1", "cloud-1")
    assert record["started_at"] <= record["completed_at"]
    assert record["compute_ms"] > 0 and record["total_ms"] > 0
    assert record["explanation"]["policy"] == "greedy"


async def test_many_tasks_spread_over_both_tiers(system, media_dir):
    url = system.web_url
    async with aiohttp.ClientSession() as session:
        form = aiohttp.FormData()
        form.add_field("operation", "thumbnail")
        form.add_field("schedule", "true")
        for index in range(40):
            form.add_field(
                "files",
                (media_dir / "coffee.png").read_bytes(),
                filename=f"coffee-{index}.png",
            )
        async with session.post(f"{url}/api/v1/tasks", data=form) as response:
            assert response.status == 201
            tasks = (await response.json())["tasks"]

        finished = await asyncio.gather(
            *[wait_done(session, url, task["id"]) for task in tasks]
        )

    assert all(task["status"] == "completed" for task in finished)
    # Earliest-finish keeps both tiers busy when a burst arrives.
    assert {task["assigned_to"] for task in finished} == {"edge", "cloud"}


def _channels_equal(image: Image.Image) -> bool:
    red, green, blue = image.convert("RGB").split()
    return red.tobytes() == green.tobytes() == blue.tobytes()
