"""Every task store behind one fixture, so one contract suite checks them all.

The embedded KV store is always checked, each test on a bucket of its own.
The MongoDB store is checked only when MONGO_URL names a real server (each
test in a database of its own, dropped afterwards): CI has no MongoDB, and a
stand-in would prove nothing about the real one.
"""

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from nats.js.api import KeyValueConfig, StorageType

from bus.task_store import KvTaskStore, TaskStore

MONGO_URL = os.environ.get("MONGO_URL") or None
NO_MONGO = (
    "MONGO_URL is not set: the MongoDB store is checked only against a real "
    "server (MONGO_URL=mongodb://127.0.0.1:27017 pytest tests/stores; the "
    "change-feed test also needs a replica set)"
)

OpenStore = Callable[[], Awaitable[TaskStore]]


@dataclass
class StoreKit:
    """One implementation over one empty data set; `open` adds another writer."""

    name: str
    open: OpenStore
    opened: list[TaskStore] = field(default_factory=list)

    async def close_all(self) -> None:
        """Close every store this kit opened."""
        for store in self.opened:
            await store.close()


async def kv_kit(js) -> tuple[StoreKit, Callable[[], Awaitable[None]]]:
    """The KV store on a fresh in-memory bucket; the second item removes it."""
    bucket = f"contract_{uuid.uuid4().hex[:12]}"
    await js.create_key_value(
        KeyValueConfig(
            bucket=bucket, history=1, storage=StorageType.MEMORY, direct=True
        )
    )

    async def open_store() -> TaskStore:
        store = await KvTaskStore.open(js, bucket)
        kit.opened.append(store)
        return store

    async def remove() -> None:
        await js.delete_key_value(bucket)

    kit = StoreKit("kv", open_store)
    return kit, remove


async def mongo_kit() -> tuple[StoreKit, Callable[[], Awaitable[None]]]:
    """The MongoDB store on a fresh database; the second item drops it."""
    from bus.mongo_store import MongoTaskStore, new_client

    assert MONGO_URL is not None
    database = f"offload_contract_{uuid.uuid4().hex[:12]}"

    async def open_store() -> TaskStore:
        store = await MongoTaskStore.open(MONGO_URL, database)
        kit.opened.append(store)
        return store

    async def remove() -> None:
        client = new_client(MONGO_URL)
        try:
            await client.drop_database(database)
        finally:
            await client.close()

    kit = StoreKit("mongodb", open_store)
    return kit, remove


@pytest.fixture(params=["kv", "mongodb"])
async def kit(request, js) -> AsyncIterator[StoreKit]:
    """Each store implementation in turn, empty at the start of the test."""
    if request.param == "mongodb" and MONGO_URL is None:
        pytest.skip(NO_MONGO)
    made, remove = await (kv_kit(js) if request.param == "kv" else mongo_kit())
    try:
        yield made
    finally:
        await made.close_all()
        await remove()


@pytest.fixture
async def store(kit: StoreKit) -> TaskStore:
    """One store of the implementation under test."""
    return await kit.open()
