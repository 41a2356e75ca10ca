"""Fixtures for the web service: an in-process app on the session's nats-server."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient
from nats.js.errors import NotFoundError

from bus import subjects
from bus.file_store import FileStore
from bus.settings import BusSettings
from bus.task_store import KvTaskStore, TaskQuery
from web.app import create_app
from web.settings import WebSettings

MakeClient = Callable[..., Awaitable[TestClient]]


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
