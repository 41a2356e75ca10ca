"""A 1 GiB upload through a real web process leaves its memory almost unchanged."""

import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.web.conftest import StartWeb, WebProcess

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
async def web_process(start_web: StartWeb) -> WebProcess:
    """A web process that accepts files of up to 2 GiB."""
    return await start_web(MAX_UPLOAD_BYTES=str(2 * GIB))


@pytest.mark.timeout(900)
async def test_a_1_gib_upload_grows_the_server_by_under_50_mb(nc, web_process):
    process, url = web_process.process, web_process.url
    block = os.urandom(MIB)
    digest = hashlib.sha256()
    for _ in range(GIB // MIB):
        digest.update(block)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(GIB // MIB):
            yield block

    timeout = aiohttp.ClientTimeout(total=800)
    async with aiohttp.ClientSession(timeout=timeout) as session:
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
