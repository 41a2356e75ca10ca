"""Service routes: health, readiness, catalog, nodes, the page, JSON errors."""

import asyncio
import re
import time

from aiohttp import web

from bus.nodes import nodes_bucket, publish_heartbeat, withdraw
from bus.schemas import NodeStatus
from web.app import create_app
from web.keys import NC
from web.settings import WebSettings


async def test_healthz_answers_ok(client):
    response = await client.get("/healthz")

    assert response.status == 200
    assert await response.json() == {"ok": True}


async def test_readyz_is_200_while_connected_and_503_after(client):
    ready = await client.get("/readyz")
    await client.app[NC].close()
    not_ready = await client.get("/readyz")

    assert ready.status == 200
    assert "error" not in await ready.json()
    assert not_ready.status == 503
    body = await not_ready.json()
    assert body["nats_connected"] is False
    assert body["error"] == "not connected to NATS"


async def test_operations_lists_both_kinds_and_the_supported_types(client):
    body = await (await client.get("/api/v1/operations")).json()

    assert "grayscale" in body["image"]
    assert "transcode" in body["video"]
    assert body["supported_types"]["image/png"] == "image"


async def test_nodes_lists_live_heartbeats_with_their_age(client, js):
    kv = await nodes_bucket(js)
    now = time.time()
    status = NodeStatus(
        node_id="web-test-edge",
        tier="edge",
        speed=1.0,
        backlog_s=0.0,
        capacity=2,
        running=0,
        queued=0,
        completed=0,
        failed=0,
        started_at=now,
        heartbeat_at=now,
    )
    await publish_heartbeat(kv, status)
    try:
        for _ in range(50):
            body = await (await client.get("/api/v1/nodes")).json()
            mine = [n for n in body["nodes"] if n["node_id"] == "web-test-edge"]
            if mine:
                break
            await asyncio.sleep(0.02)
    finally:
        await withdraw(kv, "web-test-edge")

    [node] = mine
    assert node["tier"] == "edge"
    assert 0 <= node["heartbeat_age_s"] < 3
    assert node["age_s"] == node["heartbeat_age_s"]


async def test_the_page_and_every_asset_it_names_are_served(client):
    page = await client.get("/")
    html = await page.text()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)

    assert page.status == 200
    assert "<form" in html
    assert assets
    for asset in assets:
        assert (await client.get(asset)).status == 200, asset


async def test_an_unknown_route_is_a_404_json(client):
    response = await client.get("/no/such/route")

    assert response.status == 404
    assert response.content_type == "application/json"
    assert "/no/such/route" in (await response.json())["error"]


async def test_a_wrong_method_is_a_405_json(client):
    response = await client.get("/upload")

    assert response.status == 405
    assert response.content_type == "application/json"
    assert (await response.json())["allowed"] == ["POST"]


async def test_an_unexpected_error_is_logged_and_answered_as_json_500(
    aiohttp_client, bus_settings, nc, caplog
):
    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("kaput")

    app = create_app(WebSettings(bus=bus_settings))
    app.router.add_get("/boom", boom)
    client = await aiohttp_client(app)

    response = await client.get("/boom")

    assert response.status == 500
    assert "kaput" not in (await response.json())["error"]
    assert "unexpected error in GET /boom" in caplog.text


async def test_the_page_files_never_lead_out_of_their_folder(client):
    for path in (
        "/static/../settings.py",
        "/static/%2e%2e/settings.py",
        "/static/..%2fsettings.py",
        "/static/no-such-file.js",
        "/static/vendor",
    ):
        response = await client.get(path)
        assert response.status == 404, path
        assert "error" in await response.json()
