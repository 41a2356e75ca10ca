"""A 1 GiB upload through a real web process leaves its memory almost unchanged."""

import asyncio
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from bus.nats_server import EmbeddedServer, free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
GIB = 1024 * MIB
MAX_GROWTH_BYTES = 50_000_000


def memory_kib(pid: int, field: str) -> int:
    """One memory figure (VmRSS, VmHWM, ...) of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")


def reset_peak(pid: int) -> None:
    """Start VmHWM afresh from the current RSS, where the kernel allows it."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        # Without the reset the peak includes start-up: a stricter test.
        pass


@pytest.fixture
def web_process(nats_server: EmbeddedServer, tmp_path: Path) -> Iterator[tuple]:
    """`python -m web` as a child process on a free port, and its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "NATS_URL": nats_server.url,
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(port),
        "MAX_UPLOAD_BYTES": str(2 * GIB),
    }
    log_path = tmp_path / "web.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "web"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    yield process, f"http://127.0.0.1:{port}", log_path
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def wait_ready(session: aiohttp.ClientSession, url: str, process, log: Path):
    """Poll /readyz until the service answers 200."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            async with session.get(f"{url}/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError(f"web service not ready:\n{log.read_text()}")


@pytest.mark.timeout(900)
async def test_a_1_gib_upload_grows_the_server_by_under_50_mb(nc, web_process):
    process, url, log = web_process
    block = os.urandom(MIB)
    digest = hashlib.sha256()
    for _ in range(GIB // MIB):
        digest.update(block)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(GIB // MIB):
            yield block

    timeout = aiohttp.ClientTimeout(total=800)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await wait_ready(session, url, process, log)
        with aiohttp.MultipartWriter("form-data") as form:
            operation = form.append("transcode")
            operation.set_content_disposition("form-data", name="operation")
            video = form.append(body(), {"Content-Type": "video/mp4"})
            video.set_content_disposition("form-data", name="files", filename="big.mp4")

        reset_peak(process.pid)
        rss_before = memory_kib(process.pid, "VmRSS") * 1024
        started = time.perf_counter()
        async with session.post(
            f"{url}/api/v1/tasks", data=form, headers={"Accept": "application/json"}
        ) as response:
            answer = await response.json()
        elapsed_s = time.perf_counter() - started
        peak = memory_kib(process.pid, "VmHWM") * 1024

        assert response.status == 201, answer
        [task] = answer["tasks"]
        async with session.delete(f"{url}/api/v1/tasks/{task['id']}") as deleted:
            assert deleted.status == 200

    growth = peak - rss_before
    print(
        f"\n1 GiB upload: {elapsed_s:.1f} s, {GIB / MIB / elapsed_s:.0f} MiB/s; "
        f"server RSS before {rss_before / MIB:.1f} MiB, peak {peak / MIB:.1f} MiB, "
        f"growth {growth / MIB:.1f} MiB"
    )
    assert task["size"] == GIB
    assert task["sha256"] == digest.hexdigest()
    assert growth < MAX_GROWTH_BYTES
