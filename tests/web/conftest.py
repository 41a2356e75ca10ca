"""Fixtures for the web service: an in-process app on the session's nats-server."""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from nats.js.errors import NotFoundError

from bus import subjects
from bus.file_store import FileStore
from bus.nats_server import EmbeddedServer, free_port
from bus.settings import BusSettings
from bus.task_store import KvTaskStore, TaskQuery
from tests.e2e.system import MONGO_SETTINGS
from web.app import create_app
from web.settings import WebSettings

MakeClient = Callable[..., Awaitable[TestClient]]
PROJECT_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 30.0


@dataclass
class WebProcess:
    """`python -m web` running as a child process."""

    process: subprocess.Popen
    url: str
    log_path: Path

    def log(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text()


StartWeb = Callable[..., Awaitable[WebProcess]]


async def wait_ready(web: WebProcess, headers: dict[str, str] | None = None) -> None:
    """Poll /readyz until the service answers 200."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with aiohttp.ClientSession(headers=headers) as session:
        while time.monotonic() < deadline:
            assert web.process.poll() is None, web.log()
            try:
                async with session.get(f"{web.url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"web service not ready:\n{web.log()}")


def spawn_web(environment: dict[str, str], log_path: Path) -> subprocess.Popen:
    """`python -m web` with this environment, its output going to `log_path`."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "web"],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
async def start_web(
    nats_server: EmbeddedServer, tmp_path: Path
) -> AsyncIterator[StartWeb]:
    """Start `python -m web` on a free port with extra environment; wait till ready."""
    started: list[WebProcess] = []

    async def start(**env: str) -> WebProcess:
        port = free_port()
        # The caller's environment must not set a token the test did not ask for.
        environment = {
            k: v
            for k, v in os.environ.items()
            if k not in ("API_TOKEN", *MONGO_SETTINGS)
        }
        environment.update(
            NATS_URL=nats_server.url, WEB_HOST="127.0.0.1", WEB_PORT=str(port), **env
        )
        log_path = tmp_path / f"web-{port}.log"
        process = spawn_web(environment, log_path)
        web = WebProcess(process, f"http://127.0.0.1:{port}", log_path)
        started.append(web)
        token = env.get("API_TOKEN")
        await wait_ready(web, {"Authorization": f"Bearer {token}"} if token else None)
        return web

    yield start

    for web in started:
        web.process.terminate()
        try:
            web.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            web.process.kill()
            web.process.wait()


@pytest.fixture
async def make_client(aiohttp_client, bus_settings: BusSettings, nc) -> MakeClient:
    """Build a test client for the app with some settings overridden."""

    async def make(**overrides: object) -> TestClient:
        settings = WebSettings(bus=bus_settings, **overrides)  # type: ignore[arg-type]
        return await aiohttp_client(create_app(settings))

    return make


@pytest.fixture
async def client(make_client: MakeClient) -> TestClient:
    """A client for the app with default limits."""
    return await make_client()


@pytest.fixture(autouse=True)
async def leave_no_trace(js) -> AsyncIterator[None]:
    """Delete every task, file and scheduled message a test created."""
    store = await KvTaskStore.open(js)
    before = {record.id for record in await store.list(TaskQuery())}
    first_new_seq = (await js.stream_info(subjects.TASKS_STREAM)).state.last_seq + 1

    yield

    files = FileStore(js)

    async def forget(task_id: str) -> None:
        await files.delete(subjects.input_object(task_id))
        await files.delete(subjects.output_object(task_id))
        await store.delete(task_id)

    async def unpublish(seq: int) -> None:
        try:
            await js.delete_msg(subjects.TASKS_STREAM, seq)
        except NotFoundError:
            pass

    records = await store.list(TaskQuery())
    await asyncio.gather(*(forget(r.id) for r in records if r.id not in before))
    last_seq = (await js.stream_info(subjects.TASKS_STREAM)).state.last_seq
    await asyncio.gather(
        *(unpublish(seq) for seq in range(first_new_seq, last_seq + 1))
    )
