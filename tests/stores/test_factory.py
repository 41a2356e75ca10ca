"""Choosing the store from MONGO_URL and MONGO_DB, and what a bad choice says."""

import importlib.util
import uuid

import pytest

from bus.nats_server import free_port
from bus.store_factory import MissingDriver, StoreSettings, open_task_store
from bus.task_store import KvTaskStore
from tests.stores.conftest import MONGO_URL, NO_MONGO

HAS_PYMONGO = importlib.util.find_spec("pymongo") is not None


def test_settings_come_from_mongo_url_and_mongo_db(monkeypatch):
    monkeypatch.delenv("MONGO_URL", raising=False)
    monkeypatch.delenv("MONGO_DB", raising=False)
    assert StoreSettings.from_env() == StoreSettings()
    assert not StoreSettings.from_env().uses_mongodb

    monkeypatch.setenv("MONGO_URL", "mongodb://db1,db2/offload?replicaSet=rs0")
    monkeypatch.setenv("MONGO_DB", "records")
    settings = StoreSettings.from_env()

    assert settings.uses_mongodb
    assert settings.mongo_url == "mongodb://db1,db2/offload?replicaSet=rs0"
    assert settings.mongo_db == "records"
    assert "db1" not in repr(settings)  # the URL may carry a password


@pytest.mark.parametrize(
    ("url", "database", "complaint"),
    [
        ("postgres://user:secret@host/db", None, "must start with mongodb://"),
        ("localhost:27017", None, "must start with mongodb://"),
        ("mongodb://localhost", "  ", "MONGO_DB must not be blank"),
    ],
)
def test_settings_that_cannot_work_are_refused_at_start(url, database, complaint):
    with pytest.raises(ValueError, match=complaint) as refused:
        StoreSettings(mongo_url=url, mongo_db=database)
    assert "secret" not in str(refused.value)


async def test_without_mongo_url_records_stay_in_the_kv_bucket(js):
    store = await open_task_store(js, StoreSettings())

    assert isinstance(store, KvTaskStore)


async def test_an_unreachable_mongodb_fails_the_start_with_a_clear_error(js):
    port = free_port()  # nothing listens there
    url = f"mongodb://user:secret@127.0.0.1:{port}/x?serverSelectionTimeoutMS=300"
    settings = StoreSettings(mongo_url=url)

    if not HAS_PYMONGO:
        with pytest.raises(MissingDriver, match=r"pip install"):
            await open_task_store(js, settings)
        return
    from bus.mongo_store import StoreUnavailable

    with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port}") as failed:
        await open_task_store(js, settings)
    assert "secret" not in str(failed.value)
    assert "mongodb://***@127.0.0.1" in str(failed.value)


@pytest.mark.skipif(not HAS_PYMONGO, reason="PyMongo is not installed")
async def test_a_connection_string_the_driver_cannot_read_is_a_clear_error(js):
    with pytest.raises(ValueError, match="not a usable MongoDB connection string"):
        await open_task_store(js, StoreSettings(mongo_url="mongodb://"))


@pytest.mark.skipif(MONGO_URL is None, reason=NO_MONGO)
async def test_with_mongo_url_records_go_to_mongodb_with_every_index(js):
    from bus.mongo_documents import INDEXES
    from bus.mongo_store import MongoTaskStore, new_client

    assert MONGO_URL is not None
    database = f"offload_factory_{uuid.uuid4().hex[:12]}"
    store = await open_task_store(
        js, StoreSettings(mongo_url=MONGO_URL, mongo_db=database)
    )
    client = new_client(MONGO_URL)
    try:
        assert isinstance(store, MongoTaskStore)
        indexes = await (await client[database]["tasks"].list_indexes()).to_list()
        assert {index["name"] for index in indexes} >= set(INDEXES)
    finally:
        await store.close()
        await client.drop_database(database)
        await client.close()
