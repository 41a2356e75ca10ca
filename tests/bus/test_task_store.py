"""The KV task store: create, read, optimistic updates, listing."""

import asyncio
import time
import uuid

import pytest

from bus.errors import TaskExists, TaskNotFound
from bus.schemas import TaskRecord
from bus.task_store import KvTaskStore, TaskQuery


def new_record(**fields) -> TaskRecord:
    values = dict(
        id=uuid.uuid4().hex,
        filename="a.png",
        content_type="image/png",
        kind="image",
        size=10,
        sha256="00",
        operation="grayscale",
        uploaded_at=time.time(),
    )
    values.update(fields)
    return TaskRecord(**values)


async def test_created_record_reads_back_and_ids_are_unique(js):
    store = await KvTaskStore.open(js)
    record = new_record()
    await store.create(record)

    assert await store.get(record.id) == record
    with pytest.raises(TaskExists):
        await store.create(record)


async def test_missing_and_invalid_ids_raise_not_found(js):
    store = await KvTaskStore.open(js)
    with pytest.raises(TaskNotFound):
        await store.get(uuid.uuid4().hex)
    with pytest.raises(TaskNotFound):
        await store.get("../etc/passwd")


async def test_concurrent_updates_from_two_stores_lose_nothing(js):
    writer_a = await KvTaskStore.open(js)
    writer_b = await KvTaskStore.open(js)
    record = new_record()
    await writer_a.create(record)
    await writer_b.get(record.id)

    def bump(task: TaskRecord) -> bool:
        task.attempts += 1
        return True

    await asyncio.gather(
        *[writer_a.update(record.id, bump) for _ in range(10)],
        *[writer_b.update(record.id, bump) for _ in range(10)],
    )

    assert (await writer_a.get(record.id)).attempts == 20


async def test_view_lists_filters_and_pages_newest_first(js):
    store = await KvTaskStore.open(js)
    marker = uuid.uuid4().hex
    made = [new_record(filename=marker, uploaded_at=1000.0 + i) for i in range(5)]
    for record in made:
        await store.create(record)
    await store.start_view()
    try:
        first = await store.list(TaskQuery(filename=marker, limit=2))
        rest = await store.list(TaskQuery(filename=marker, before=first[-1].id))
        await store.delete(made[0].id)
        after_delete = await store.list(TaskQuery(filename=marker))
    finally:
        await store.close()

    assert [r.id for r in first + rest] == [r.id for r in reversed(made)]
    assert made[0].id not in [r.id for r in after_delete]
