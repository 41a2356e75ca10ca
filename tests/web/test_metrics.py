"""/metrics: Prometheus text format with tasks, latency, nodes and counters."""

import asyncio
import re
import time

from bus.nodes import nodes_bucket, publish_heartbeat, withdraw
from bus.schemas import NodeStatus
from tests.web.helpers import stored_task, upload
from web.metrics import escape, labels, number

PNG = "image/png"
SAMPLE = re.compile(r'([a-z_]+)(\{(?:[a-z_]+="(?:[^"\\]|\\.)*",?)*\})? (\S+)')


def parse(text: str) -> dict[str, float]:
    """Every sample by `name{labels}`, checking each line's syntax on the way."""
    samples: dict[str, float] = {}
    typed: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("# HELP "):
            continue
        match = SAMPLE.fullmatch(line)
        assert match, f"not a sample line: {line!r}"
        family = re.sub(r"_(bucket|sum|count)$", "", match.group(1))
        assert match.group(1) in typed or family in typed, f"no TYPE for {line!r}"
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


async def scrape(client) -> dict[str, float]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(await response.text())


async def test_uploads_are_counted_in_files_and_bytes(client, media_dir):
    photo = (media_dir / "chelsea.png").read_bytes()
    before = await scrape(client)

    response = await upload(
        client,
        ("a.png", photo, PNG),
        ("b.png", photo, PNG),
        fields={"operation": "grayscale"},
    )
    assert response.status == 201
    after = await scrape(client)

    assert after["offload_uploads_total"] - before.get("offload_uploads_total", 0) == 2
    uploaded = (
        after["offload_upload_bytes_total"] - before["offload_upload_bytes_total"]
    )
    assert uploaded == 2 * len(photo)
    key = 'offload_tasks{status="uploaded",tier="none"}'
    assert after[key] - before[key] == 2


async def test_requests_are_counted_by_route_template_and_status(client):
    await client.get("/api/v1/tasks/does-not-exist")
    await client.get("/api/v1/tasks/nor-this-one")
    await client.get("/no/such/route")

    samples = await scrape(client)

    missing = (
        'offload_http_requests_total{method="GET",'
        'route="/api/v1/tasks/{id}",status="404"}'
    )
    assert samples[missing] == 2
    unmatched = (
        'offload_http_requests_total{method="GET",route="unmatched",status="404"}'
    )
    assert samples[unmatched] == 1


async def test_completed_tasks_fill_the_latency_histogram_of_their_tier(client, js):
    before = await scrape(client)
    await stored_task(js, b"in", output=b"out")  # 1.5 s on the edge
    await stored_task(js, b"in", output=b"out", total_ms=40_000.0)

    # The records were written behind the web's back: its view follows the
    # bucket's change feed, so give it a moment to see both.
    count = 'offload_task_latency_seconds_count{tier="edge"}'
    for _ in range(100):
        after = await scrape(client)
        if after[count] - before[count] >= 2:
            break
        await asyncio.sleep(0.05)

    def added(name: str) -> float:
        return after[name] - before[name]

    bucket = 'offload_task_latency_seconds_bucket{tier="edge",le="%s"}'
    assert added(bucket % "1") == 0
    assert added(bucket % "2.5") == 1
    assert added(bucket % "30") == 1
    assert added(bucket % "60") == 2
    assert added(bucket % "+Inf") == 2
    assert added(count) == 2
    assert added('offload_task_latency_seconds_sum{tier="edge"}') == 41.5
    assert added('offload_tasks{status="completed",tier="edge"}') == 2


async def test_live_nodes_are_counted_per_tier(client, js):
    kv = await nodes_bucket(js)
    now = time.time()
    status = NodeStatus(
        node_id="metrics-test-cloud",
        tier="cloud",
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
    before = (await scrape(client))['offload_nodes{tier="cloud"}']
    await publish_heartbeat(kv, status)
    try:
        for _ in range(100):
            samples = await scrape(client)
            if samples['offload_nodes{tier="cloud"}'] > before:
                break
            await asyncio.sleep(0.02)
    finally:
        await withdraw(kv, "metrics-test-cloud")

    assert samples['offload_nodes{tier="cloud"}'] == before + 1


def test_label_values_and_numbers_are_written_as_the_format_wants():
    assert escape('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert labels(route='/x"y') == '{route="/x\\"y"}'
    assert labels() == ""
    assert number(3.0) == "3"
    assert number(0.25) == "0.25"
    assert number(float("inf")) == "+Inf"
