"""`offload migrate`: reading the KV store and mapping records, for real; the
MongoDB half only where MONGO_URL names a server."""

import asyncio
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bus.connection import close, connect, jetstream
from bus.nats_server import EmbeddedServer, start_server, wait_for_jetstream
from bus.provision import provision
from bus.schemas import TaskRecord
from bus.settings import BusSettings
from bus.task_store import KvTaskStore, TaskQuery
from tests.factories import task_record
from tests.stores.conftest import MONGO_URL, NO_MONGO, kv_kit

# Mapping checks the documents with the driver's own BSON codec.
bson = pytest.importorskip("bson", reason="PyMongo (which ships bson) is needed")

from bus.mongo_documents import from_document  # noqa: E402
from bus.store_migration import (  # noqa: E402
    MigratedBatch,
    MigrationReport,
    migrate,
)

OFFLOAD = Path(sys.executable).parent / "offload"
RUN_TIMEOUT_S = 60


def record(**fields) -> TaskRecord:
    """A task with a unique id and a few nested fields."""
    values = {
        "id": uuid.uuid4().hex,
        "uploaded_at": 1_700_000_000.5,
        "params": {"width": 320, "flags": ["a", "b"]},
        "explanation": {"q_values": {"edge": -1.25, "cloud": -2.0}},
    }
    values.update(fields)
    return task_record(**values)


def set_field(name: str, value: object) -> Callable[[TaskRecord], bool]:
    """A change that sets one field."""

    def change(task: TaskRecord) -> bool:
        setattr(task, name, value)
        return True

    return change


class Collected:
    """Where the documents of a migration went, batch by batch (no database)."""

    def __init__(self) -> None:
        self.batches: list[list[dict]] = []

    async def upsert_migrated(self, documents: list[dict]) -> MigratedBatch:
        """Keep the batch; count it all as copied."""
        self.batches.append(documents)
        return MigratedBatch(len(documents), 0, 0)


@pytest.fixture
async def bucket(js) -> AsyncIterator[KvTaskStore]:
    """A KV task store on an empty bucket of its own."""
    kit, remove = await kv_kit(js)
    try:
        yield await kit.open()
    finally:
        await kit.close_all()
        await remove()


async def test_every_record_is_read_with_its_revision_and_mapped_losslessly(
    bucket: KvTaskStore,
):
    made = [record(status="completed", tier="edge") for _ in range(6)]
    made.append(record(uploaded_at=None, params={}))
    for one in made:
        await bucket.create(one)
    await bucket.update(made[0].id, set_field("attempts", 3))
    made[0].attempts = 3
    seen: list[int] = []

    collected = Collected()
    report = await migrate(bucket, collected, 3, lambda r: seen.append(r.mapped))

    assert (report.read, report.mapped, report.skipped) == (7, 7, 0)
    assert [len(batch) for batch in collected.batches] == [3, 3, 1]
    assert seen == [3, 6, 7]
    documents = {d["_id"]: d for batch in collected.batches for d in batch}
    revisions = {entry.key: entry.revision async for entry in bucket.entries()}
    assert documents.keys() == revisions.keys() == {one.id for one in made}
    for one in made:
        document = documents[one.id]
        assert document["_rev"] == document["_kv_rev"] == revisions[one.id]
        assert document["_listed_at"] == (one.uploaded_at or 0.0)
        assert document["_files"] == {
            "bucket": "files",
            "input": f"{one.id}/input",
            "output": f"{one.id}/output" if one.status == "completed" else None,
        }
        assert from_document(document) == one
        # What MongoDB would store and give back is still the same record.
        assert from_document(bson.decode(bson.encode(document))) == one


async def test_records_that_cannot_be_copied_are_counted_and_the_rest_go(
    bucket: KvTaskStore,
):
    good = record()
    huge = record(params={"seed": 2**64 - 1})  # msgpack holds it, BSON cannot
    await bucket.create(good)
    await bucket.create(huge)
    await bucket._kv.put("garbage", b"\x93not a record")
    await bucket._kv.put("elsewhere", record().encode())  # id is not its key

    collected = Collected()
    report = await migrate(bucket, collected, 10)

    assert (report.read, report.malformed, report.unstorable) == (4, 2, 1)
    assert [d["_id"] for batch in collected.batches for d in batch] == [good.id]


async def test_a_dry_run_reads_and_maps_without_a_target(bucket: KvTaskStore):
    for _ in range(3):
        await bucket.create(record())

    report = await migrate(bucket, None, 2)

    assert (report.read, report.mapped, report.copied) == (3, 3, 0)


async def test_an_empty_bucket_migrates_nothing(bucket: KvTaskStore):
    assert await migrate(bucket, Collected(), 5) == MigrationReport()


# The command itself, against a nats-server of its own: the suite's shared
# `tasks` bucket holds other tests' records, and the counts must be exact.


@dataclass
class Run:
    """What one `offload migrate` run did."""

    code: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def own_server() -> Iterator[EmbeddedServer]:
    """A nats-server with JetStream that only these tests use."""
    store = Path(tempfile.mkdtemp(prefix="offload-migrate-"))
    server = start_server(store / "jetstream", log_file=store / "nats.log")
    yield server
    server.stop()
    shutil.rmtree(store, ignore_errors=True)


async def offload_migrate(*args: str) -> Run:
    """Run the installed `offload migrate` with a clean environment."""
    assert OFFLOAD.exists(), f"the console script is not installed at {OFFLOAD}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGO_", "NATS_"))}
    process = await asyncio.create_subprocess_exec(
        str(OFFLOAD),
        "migrate",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT_S)
    assert process.returncode is not None
    return Run(process.returncode, stdout.decode(), stderr.decode())


async def test_the_command_refuses_a_server_without_a_tasks_bucket(own_server):
    await wait_for_jetstream(own_server.url)

    run = await offload_migrate(
        "--to", "mongodb://127.0.0.1:1/x", "--dry-run", "--nats", own_server.url
    )

    assert run.code == 1, run.stderr
    assert "has no 'tasks' bucket: there are no records to migrate" in run.stderr


async def test_the_command_dry_run_counts_what_it_would_copy(own_server):
    settings = BusSettings(nats_url=own_server.url)
    nc = await connect(settings, "migrate-test")
    try:
        js = jetstream(nc)
        await provision(js, settings)
        store = await KvTaskStore.open(js)
        for _ in range(3):
            await store.create(record())

        run = await offload_migrate(
            "--to", "mongodb://u:secret@127.0.0.1:1/x", "--dry-run", "--nats",
            own_server.url,
        )  # fmt: skip

        assert run.code == 0, run.stderr
        assert run.stdout.splitlines() == [
            "read 3 records from the NATS KV bucket 'tasks'",
            "3 can be copied to mongodb://***@127.0.0.1:1/x; nothing was "
            "written (--dry-run)",
        ]
        assert "secret" not in run.stdout + run.stderr

        await store._kv.put("garbage", b"\xc1")
        run = await offload_migrate(
            "--to", "mongodb://127.0.0.1:1/x", "--dry-run", "--nats", own_server.url
        )
        assert run.code == 1
        assert "skipped 1 malformed records and 0 that MongoDB cannot store" in (
            run.stdout
        )
    finally:
        await close(nc)


async def test_the_command_refuses_a_target_that_is_not_mongodb():
    run = await offload_migrate("--to", "redis://127.0.0.1/0", "--dry-run")

    assert run.code == 2
    assert "--to must start with mongodb:// or mongodb+srv://" in run.stderr


@pytest.mark.skipif(MONGO_URL is None, reason=NO_MONGO)
async def test_migrating_into_mongodb_is_safe_to_run_again(bucket: KvTaskStore):
    from bus.mongo_store import MongoTaskStore, new_client

    assert MONGO_URL is not None
    database = f"offload_migrate_{uuid.uuid4().hex[:12]}"
    target = await MongoTaskStore.open(MONGO_URL, database)
    reader = await MongoTaskStore.open(MONGO_URL, database)
    client = new_client(MONGO_URL)
    made = [record(uploaded_at=1000.0 + n) for n in range(5)]
    for one in made:
        await bucket.create(one)

    def bump(task: TaskRecord) -> bool:
        task.attempts += 1
        return True

    try:
        first = await migrate(bucket, target, 2)
        assert (first.copied, first.refreshed, first.kept) == (5, 0, 0)
        assert await target.list(TaskQuery()) == await bucket.list(TaskQuery())

        again = await migrate(bucket, target, 2)
        assert (again.copied, again.refreshed, again.kept) == (0, 0, 5)

        # A newer KV revision refreshes an untouched copy, and a reader that
        # cached the older copy still cannot write over the refreshed one.
        await reader.get(made[0].id)
        await bucket.update(made[0].id, bump)
        refreshed = await migrate(bucket, target, 2)
        assert (refreshed.copied, refreshed.refreshed, refreshed.kept) == (0, 1, 4)
        assert (await reader.update(made[0].id, bump)).attempts == 2

        # A record written through the MongoDB store since is never undone.
        await target.update(made[1].id, bump)
        await bucket.update(made[1].id, set_field("error", "old"))
        last = await migrate(bucket, target, 2)
        assert (last.copied, last.refreshed, last.kept) == (0, 0, 5)
        kept = await target.get(made[1].id)
        assert (kept.attempts, kept.error) == (1, None)
    finally:
        await target.close()
        await reader.close()
        await client.drop_database(database)
        await client.close()
