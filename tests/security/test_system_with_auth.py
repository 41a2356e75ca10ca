"""The whole system with permissions enforced, each service logged in as its role.

Like `make run`: coordinator, web, an edge and a cloud node as processes,
each given only its own user's credentials. A photo goes through the edge
and another through the cloud, from upload to download, and no service is
ever refused anything along the way.
"""

import io
from collections.abc import AsyncIterator

import aiohttp
import pytest
from PIL import Image

from bus.nats_auth import NatsUser, user_for
from bus.nats_server import free_port
from tests.e2e.system import RunningSystem, wait_until, web_ready
from tests.security.conftest import AuthServer, start_auth_server

SERVICES = ("coordinator", "web", "edge", "cloud")


async def start_coordinator(
    system: RunningSystem, users: list[NatsUser], policy: str
) -> None:
    """A coordinator that sends every task to one tier, once it uses `policy`
    (until then the greedy rule places)."""
    login = user_for(users, "coordinator").env()
    ready_line = f"policy {policy} ready"
    already = system.log("coordinator").count(ready_line)
    system.start("coordinator", "coordinator", POLICY=policy, **login)

    async def ready() -> bool:
        return system.log("coordinator").count(ready_line) > already

    await wait_until(ready, 90, f"the coordinator to use {policy}", interval_s=0.2)


@pytest.fixture(scope="module")
async def system() -> AsyncIterator[tuple[RunningSystem, AuthServer]]:
    """The four services against a server that enforces the generated users."""
    auth = start_auth_server(["edge-1"], ["cloud-1"])
    (auth.folder / "scratch").mkdir()
    running = RunningSystem(auth.server, auth.folder, free_port())
    users = auth.users
    running.start("web", "web", **user_for(users, "web").env())
    running.start(
        "edge", "edge_node", NODE_ID="edge-1", **user_for(users, "edge", "edge-1").env()
    )
    running.start(
        "cloud",
        "cloud_node",
        NODE_ID="cloud-1",
        **user_for(users, "cloud", "cloud-1").env(),
    )
    try:
        await start_coordinator(running, users, "all-edge")
        async with aiohttp.ClientSession() as session:
            await wait_until(lambda: web_ready(session, running.web_url), 60, "web")

            async def both_nodes() -> bool:
                async with session.get(f"{running.web_url}/api/v1/nodes") as reply:
                    nodes = (await reply.json())["nodes"]
                    return {node["node_id"] for node in nodes} == {"edge-1", "cloud-1"}

            await wait_until(both_nodes, 60, "both nodes to heartbeat")
        yield running, auth
    finally:
        running.shutdown()  # the server and the folder too


async def run_photo(session: aiohttp.ClientSession, url: str, photo) -> dict:
    """Upload and schedule a grayscale of `photo`; return the finished record."""
    form = aiohttp.FormData()
    form.add_field("operation", "grayscale")
    form.add_field("schedule", "true")
    form.add_field("files", photo.read_bytes(), filename=photo.name)
    async with session.post(f"{url}/api/v1/tasks", data=form) as response:
        assert response.status == 201, await response.text()
        (task,) = (await response.json())["tasks"]

    async def finished() -> dict | None:
        async with session.get(f"{url}/api/v1/tasks/{task['id']}") as response:
            record = await response.json()
            return record if record["status"] in ("completed", "failed") else None

    return await wait_until(finished, 90, f"task {task['id']}", interval_s=0.2)


async def test_a_task_runs_on_each_tier_with_every_service_on_its_own_login(
    system, media_dir
):
    running, auth = system
    url = running.web_url
    photo = media_dir / "astronaut.png"
    async with aiohttp.ClientSession() as session:
        # The live view follows the tasks bucket through the web's own rights.
        events = await session.get(f"{url}/api/v1/events")
        assert events.status == 200

        on_edge = await run_photo(session, url, photo)
        assert on_edge["status"] == "completed", on_edge
        assert (on_edge["tier"], on_edge["node_id"]) == ("edge", "edge-1")

        running.stop("coordinator")
        await start_coordinator(running, auth.users, "all-cloud")
        on_cloud = await run_photo(session, url, photo)
        assert on_cloud["status"] == "completed", on_cloud
        assert (on_cloud["tier"], on_cloud["node_id"]) == ("cloud", "cloud-1")

        for record in (on_edge, on_cloud):
            output = f"{url}/api/v1/tasks/{record['id']}/output"
            async with session.get(output) as response:
                assert response.status == 200
                image = Image.open(io.BytesIO(await response.read()))
                assert image.mode == "L"
            async with session.get(output, headers={"Range": "bytes=0-99"}) as reply:
                assert reply.status == 206
                assert len(await reply.read()) == 100

        async with session.delete(f"{url}/api/v1/tasks/{on_edge['id']}") as response:
            assert response.status in (200, 204)
        async with session.get(f"{url}/api/v1/tasks/{on_edge['id']}") as response:
            assert response.status == 404
        events.close()

    for name in SERVICES:
        log = running.log(name).lower()
        assert "permissions violation" not in log, f"{name} was refused:\n{log}"
        assert "connected to nats" in log, f"{name} never connected:\n{log}"
