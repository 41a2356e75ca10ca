"""The installed `offload` command against the whole running system."""

import asyncio
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from bus.nats_server import free_port
from tests.e2e.system import start_system, wait_until, web_ready

OFFLOAD = Path(sys.executable).parent / "offload"
ID = re.compile(r"^[0-9a-f]{32}$")
RUN_TIMEOUT_S = 30


@dataclass
class Run:
    """What one `offload` invocation did."""

    code: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
async def system():
    """nats-server, coordinator (greedy), web, one edge and one cloud node."""
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


async def offload(
    *args: str, url: str, cwd: Path | None = None, token: str | None = None
) -> Run:
    """Run the installed console script with `--url url` and wait for it."""
    assert OFFLOAD.exists(), f"the console script is not installed at {OFFLOAD}"
    # The caller's own settings must not leak into what is being checked.
    env = {k: v for k, v in os.environ.items() if k not in ("API_TOKEN", "OFFLOAD_URL")}
    if token is not None:
        env["API_TOKEN"] = token
    process = await asyncio.create_subprocess_exec(
        str(OFFLOAD),
        "--url",
        url,
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    talking = asyncio.ensure_future(process.communicate())
    done, _ = await asyncio.wait({talking}, timeout=RUN_TIMEOUT_S)
    if not done:
        process.kill()
        stdout, stderr = await talking
        pytest.fail(
            f"offload {' '.join(args)} ran over {RUN_TIMEOUT_S} s; its stdout: "
            f"{stdout.decode()!r}; its stderr: {stderr.decode()!r}"
        )
    stdout, stderr = talking.result()
    assert process.returncode is not None
    return Run(process.returncode, stdout.decode(), stderr.decode())


async def serves_events(url: str) -> bool:
    """Whether this web service has the live event stream."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/api/v1/events") as response,
    ):
        return response.status == 200 and response.content_type == "text/event-stream"


async def test_submit_wait_status_and_fetch_a_photo(system, media_dir, tmp_path):
    url = system.web_url
    photo = media_dir / "astronaut.png"

    submitted = await offload(
        "-v", "submit", str(photo), "--op", "grayscale", "--wait", url=url
    )

    assert submitted.code == 0, submitted.stderr
    task_id, summary = submitted.stdout.splitlines()
    assert ID.match(task_id)
    assert re.match(
        rf"{task_id}  completed  tier=(edge|cloud)  node=(edge-1|cloud-1)  "
        r"total=\d+(\.\d+)? m?s  astronaut\.png$",
        summary,
    ), summary
    assert "astronaut.png: sent 773.0 KiB" in submitted.stderr
    followed = (
        "following 1 task(s) through events"
        if await serves_events(url)
        else "polling 1 task(s)"
    )
    assert followed in submitted.stderr, submitted.stderr

    shown = await offload("status", task_id, "--json", url=url)
    assert shown.code == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["id"] == task_id
    assert record["status"] == "completed"
    assert record["operation"]["name"] == "grayscale"
    assert record["explanation"]["policy"] == "greedy"
    assert f"tier={record['tier']}" in summary

    details = await offload("status", task_id, url=url)
    assert details.code == 0, details.stderr
    assert f"placed on      {record['tier']} / {record['node_id']}" in details.stdout
    assert "reason" in details.stdout and record["explanation"]["reason"] in (
        details.stdout
    )

    listed = await offload("status", "--status", "completed", "--limit", "5", url=url)
    assert listed.code == 0, listed.stderr
    assert task_id in listed.stdout

    target = tmp_path / "gray.png"
    fetched = await offload("fetch", task_id, "-o", str(target), url=url)
    assert fetched.code == 0, fetched.stderr
    assert fetched.stdout.strip() == str(target)
    with Image.open(target) as result, Image.open(photo) as original:
        assert result.size == original.size
        assert result.mode == "L" or _channels_equal(result)

    again = await offload("fetch", task_id, "-o", str(target), url=url)
    assert again.code == 2
    assert "already exists; pass --force" in again.stderr

    named = await offload("fetch", task_id, url=url, cwd=tmp_path)
    assert named.code == 0, named.stderr
    assert named.stdout.strip() == record["output_name"]
    assert (tmp_path / record["output_name"]).read_bytes() == target.read_bytes()

    original_copy = await offload(
        "fetch", task_id, "--input", "-o", str(tmp_path), url=url
    )
    assert original_copy.code == 0, original_copy.stderr
    assert (tmp_path / "astronaut.png").read_bytes() == photo.read_bytes()


async def test_params_and_unusual_names_reach_the_server(system, media_dir, tmp_path):
    url = system.web_url
    photo = tmp_path / 'café "ünï"\n;x.png'
    photo.write_bytes((media_dir / "coffee.png").read_bytes())
    submitted = await offload(
        "submit",
        str(photo),
        "--op",
        "resize",
        "-p",
        "width=64",
        "--wait",
        "--timeout",
        "30",
        url=url,
    )
    assert submitted.code == 0, submitted.stderr
    task_id = submitted.stdout.splitlines()[0]
    record = json.loads((await offload("status", task_id, "--json", url=url)).stdout)
    assert record["filename"] == 'café "ünï";x.png'
    assert record["operation"]["params"]["width"] == 64

    fetched = await offload("fetch", task_id, "-o", str(tmp_path / "small"), url=url)
    assert fetched.code == 0, fetched.stderr
    with Image.open(tmp_path / "small") as small:
        assert small.width == 64


async def test_nodes_lists_an_edge_and_a_cloud_node(system):
    listed = await offload("nodes", "--json", url=system.web_url)
    assert listed.code == 0, listed.stderr
    nodes = json.loads(listed.stdout)["nodes"]
    assert {(node["tier"], node["node_id"]) for node in nodes} == {
        ("edge", "edge-1"),
        ("cloud", "cloud-1"),
    }

    table = await offload("nodes", url=system.web_url)
    assert table.code == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:3] == ["TIER", "NODE", "SPEED"]
    assert [row.split()[:2] for row in rows] == [
        ["cloud", "cloud-1"],
        ["edge", "edge-1"],
    ]


async def test_an_unknown_operation_fails_with_the_valid_ones(system, media_dir):
    run = await offload(
        "submit", str(media_dir / "astronaut.png"), "--op", "sepia", url=system.web_url
    )
    assert run.code == 1
    assert run.stdout == ""
    assert "the server answered 400: unknown operation 'sepia'" in run.stderr
    assert "grayscale" in run.stderr and "thumbnail" in run.stderr


async def test_a_missing_file_is_a_usage_error_and_uploads_nothing(
    system, media_dir, tmp_path
):
    before = await offload("status", "--json", "--limit", "1", url=system.web_url)
    run = await offload(
        "submit",
        str(media_dir / "astronaut.png"),
        str(tmp_path / "absent.png"),
        "--op",
        "grayscale",
        url=system.web_url,
    )
    after = await offload("status", "--json", "--limit", "1", url=system.web_url)

    assert run.code == 2
    assert f"{tmp_path / 'absent.png'}: no such file" in run.stderr
    assert run.stdout == ""
    assert json.loads(after.stdout)["tasks"] == json.loads(before.stdout)["tasks"]


async def test_an_unreachable_server_is_a_clear_one_line_error():
    url = f"http://127.0.0.1:{free_port()}"
    run = await offload("nodes", url=url)
    assert run.code == 1
    assert run.stderr.strip() == (
        f"offload: error: cannot connect to {url} (connection refused); "
        "is the web service running? Set --url or OFFLOAD_URL"
    )


async def test_a_corrupt_file_fails_and_says_why(system, tmp_path):
    url = system.web_url
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really an image" * 50)

    run = await offload("submit", str(broken), "--op", "grayscale", "--wait", url=url)

    assert run.code == 1
    task_id, summary = run.stdout.splitlines()
    assert summary.startswith(f"{task_id}  failed  tier=")
    record = json.loads((await offload("status", task_id, "--json", url=url)).stdout)
    assert "decod" in record["error"]
    assert summary.endswith(f"broken.png  error: {record['error']}")


async def test_a_guarded_server_needs_the_token(system, media_dir):
    token = "client-test-token"
    guarded = f"http://127.0.0.1:{free_port()}"
    system.start(
        "guarded-web", "web", API_TOKEN=token, WEB_PORT=guarded.rsplit(":", 1)[1]
    )
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        await wait_until(lambda: web_ready(session, guarded), 60, "the guarded web")

    refused = await offload("nodes", url=guarded)
    wrong = await offload("nodes", "--token", "not-it", url=guarded)
    allowed = await offload("nodes", "--json", "--token", token, url=guarded)
    from_env = await offload(
        "-v",
        "submit",
        str(media_dir / "coffee.png"),
        "--op",
        "grayscale",
        "--wait",
        url=guarded,
        token=token,
    )

    for run in (refused, wrong):
        assert run.code == 1
        assert run.stderr.startswith("offload: error: the server refused the request")
        assert "(401)" in run.stderr and "pass --token or set API_TOKEN" in run.stderr
    assert allowed.code == 0, allowed.stderr
    assert len(json.loads(allowed.stdout)["nodes"]) == 2
    assert from_env.code == 0, from_env.stderr
    assert "  completed  " in from_env.stdout
    if await serves_events(system.web_url):
        assert "through events" in from_env.stderr


def _channels_equal(image: Image.Image) -> bool:
    red, green, blue = image.convert("RGB").split()
    return red.tobytes() == green.tobytes() == blue.tobytes()
