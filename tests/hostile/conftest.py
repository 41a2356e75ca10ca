"""One real system for the hostile-input tests, and the helpers they share.

nats-server, the coordinator (greedy placement, so no JAX start-up), the web
service, one edge and one cloud node: each a separate process with its own
log, as `make run` starts them.
"""

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.system import RunningSystem, start_system, wait_until, web_ready
from tests.hostile import corpus

SERVICES = ("coordinator", "web", "edge", "cloud")
TASK_TIMEOUT_S = 120.0
"""Every task here is small; this only stops a lost task from hanging the run."""


@pytest.fixture(scope="package")
async def system() -> AsyncIterator[RunningSystem]:
    """The whole system, shared by every hostile-input test."""
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


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client that asks for JSON answers."""
    headers = {"Accept": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as client:
        yield client


def upload_form(
    data: bytes,
    filename: str,
    content_type: str | None,
    operation: str,
    fields: dict[str, str] | None = None,
    schedule: bool = True,
) -> aiohttp.FormData:
    """One file with its operation, as the page or `curl -F` would send it."""
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("operation", operation)
    for name, value in (fields or {}).items():
        form.add_field(name, value)
    if schedule:
        form.add_field("schedule", "true")
    form.add_field("files", data, filename=filename, content_type=content_type)
    return form


async def post_upload(
    session: aiohttp.ClientSession, system: RunningSystem, form: aiohttp.FormData
) -> tuple[int, dict]:
    """POST an upload; (status, JSON body)."""
    async with session.post(f"{system.web_url}/api/v1/tasks", data=form) as reply:
        return reply.status, await reply.json()


async def upload_task(
    session: aiohttp.ClientSession,
    system: RunningSystem,
    data: bytes,
    filename: str,
    operation: str,
    content_type: str | None = None,
    fields: dict[str, str] | None = None,
) -> dict:
    """Upload and schedule one file that must be accepted; its task."""
    form = upload_form(data, filename, content_type, operation, fields)
    status, body = await post_upload(session, system, form)
    assert status == 201, body
    [task] = body["tasks"]
    return task


async def upload_raw_task(
    session: aiohttp.ClientSession,
    system: RunningSystem,
    file_disposition: bytes,
    data: bytes,
    operation: str,
) -> dict:
    """Upload and schedule one file under a hand-written Content-Disposition."""
    boundary = uuid.uuid4().hex
    fields = {"operation": operation, "schedule": "true"}
    body = corpus.multipart_body(boundary, file_disposition, data, fields)
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    url = f"{system.web_url}/api/v1/tasks"
    async with session.post(url, data=body, headers=headers) as reply:
        status, answer = reply.status, await reply.json()
    assert status == 201, answer
    [task] = answer["tasks"]
    return task


async def final_record(
    session: aiohttp.ClientSession,
    system: RunningSystem,
    task_id: str,
    timeout_s: float = TASK_TIMEOUT_S,
) -> dict:
    """The task's record once it reached completed, failed or cancelled."""

    async def final() -> dict | None:
        async with session.get(f"{system.web_url}/api/v1/tasks/{task_id}") as reply:
            record = await reply.json()
        done = record["status"] in ("completed", "failed", "cancelled")
        return record if done else None

    return await wait_until(final, timeout_s, f"task {task_id}", interval_s=0.1)


async def all_tasks(session: aiohttp.ClientSession, system: RunningSystem) -> list:
    """Every task record the web service knows."""
    async with session.get(f"{system.web_url}/files") as reply:
        return await reply.json()


async def normal_task_completes(
    session: aiohttp.ClientSession, system: RunningSystem, media_dir: Path
) -> dict:
    """An ordinary photo uploaded now still completes: the nodes kept serving."""
    photo = (media_dir / "chelsea.png").read_bytes()
    task = await upload_task(session, system, photo, "after.png", "grayscale")
    record = await final_record(session, system, task["id"])
    assert record["status"] == "completed", record
    return record


def services_alive(system: RunningSystem) -> None:
    """Every service process still runs and none logged an unexpected error."""
    for name in SERVICES:
        process = system.processes[name]
        assert process.poll() is None, f"{name} exited:\n{system.log(name)[-3000:]}"
        log = system.log(name)
        assert "Traceback" not in log, f"{name} logged an error:\n{log[-3000:]}"


class PeakMemory:
    """The peak resident memory of a process since the last reset (Linux /proc)."""

    def __init__(self, pid: int) -> None:
        self._pid = pid

    def reset(self) -> None:
        """Start a new peak from the current resident size."""
        # Writing 5 to clear_refs resets VmHWM to the current VmRSS.
        Path(f"/proc/{self._pid}/clear_refs").write_text("5")

    def peak_bytes(self) -> int:
        """VmHWM: the most resident memory since the reset."""
        return self._status_kib("VmHWM") * 1024

    def current_bytes(self) -> int:
        """VmRSS now."""
        return self._status_kib("VmRSS") * 1024

    def _status_kib(self, key: str) -> int:
        for line in Path(f"/proc/{self._pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
        raise AssertionError(f"/proc/{self._pid}/status has no {key}")


class Stopwatch:
    """Seconds since it was made."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    @property
    def elapsed_s(self) -> float:
        """Seconds so far."""
        return time.monotonic() - self._start
