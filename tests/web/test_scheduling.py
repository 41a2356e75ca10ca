"""Scheduling: a ScheduledTask on tasks.scheduled, then a "scheduled" record."""

import asyncio
import time
import uuid

from bus.schemas import TaskRecord
from bus.task_store import KvTaskStore
from tests.web.helpers import last_tasks_seq, scheduled_since, upload, upload_one
from web.scheduling import schedule

PNG = "image/png"


async def test_upload_with_schedule_true_schedules_each_task(client, js, media_dir):
    data = (media_dir / "chelsea.png").read_bytes()
    seq = await last_tasks_seq(js)

    response = await upload(
        client,
        ("a.png", data, PNG),
        ("b.png", data, PNG),
        fields={"operation": "grayscale", "schedule": "true"},
    )

    assert response.status == 201
    body = await response.json()
    assert body["scheduled"] == 2
    assert [task["status"] for task in body["tasks"]] == ["scheduled", "scheduled"]
    assert all(task["scheduled_at"] for task in body["tasks"])
    assert await scheduled_since(js, seq) == [task["id"] for task in body["tasks"]]


async def test_schedule_tasks_schedules_every_uploaded_task(client, js, media_dir):
    data = (media_dir / "chelsea.png").read_bytes()
    first = await upload_one(client, ("a.png", data, PNG))
    second = await upload_one(client, ("b.png", data, PNG))
    seq = await last_tasks_seq(js)

    response = await client.post("/schedule-tasks")

    assert response.status == 200
    body = await response.json()
    assert {first["id"], second["id"]} <= set(body["task_ids"])
    assert body["scheduled"] == len(body["task_ids"])
    assert set(await scheduled_since(js, seq)) == set(body["task_ids"])
    for task in (first, second):
        shown = await (await client.get(f"/api/v1/tasks/{task['id']}")).json()
        assert shown["status"] == "scheduled"

    again = await (await client.post("/schedule-tasks")).json()
    assert first["id"] not in again["task_ids"]


async def test_one_task_can_be_scheduled_once(client, js, media_dir):
    data = (media_dir / "chelsea.png").read_bytes()
    task = await upload_one(client, ("a.png", data, PNG))
    seq = await last_tasks_seq(js)

    response = await client.post(f"/api/v1/tasks/{task['id']}/schedule")
    repeated = await client.post(f"/api/v1/tasks/{task['id']}/schedule")

    assert response.status == 200
    assert (await response.json())["status"] == "scheduled"
    assert repeated.status == 409
    assert (await repeated.json())["task_status"] == "scheduled"
    assert await scheduled_since(js, seq) == [task["id"]]


async def test_scheduling_never_moves_a_status_backwards(js):
    store = await KvTaskStore.open(js)
    record = TaskRecord(
        id=uuid.uuid4().hex,
        filename="a.png",
        content_type=PNG,
        kind="image",
        size=1,
        sha256="0" * 64,
        operation="grayscale",
        status="running",
        uploaded_at=time.time(),
    )
    await store.create(record)

    [after] = await schedule(js, store, [record.id])

    assert after.status == "running"
    assert after.scheduled_at is None


async def test_scheduling_a_thousand_tasks_schedules_every_one(js):
    store = await KvTaskStore.open(js)
    now = time.time()
    records = [
        TaskRecord(
            id=uuid.uuid4().hex,
            filename=f"{n}.png",
            content_type=PNG,
            kind="image",
            size=1,
            sha256="0" * 64,
            operation="grayscale",
            uploaded_at=now,
        )
        for n in range(1000)
    ]
    await asyncio.gather(*(store.create(record) for record in records))

    # How fast this is belongs to `make bench-pipeline` (its burst phase),
    # not to a timed test on a shared machine.
    scheduled = await schedule(js, store, [record.id for record in records])

    assert len(scheduled) == 1000
    assert all(record.status == "scheduled" for record in scheduled)
    assert len({record.id for record in scheduled}) == 1000
    for record in records:
        assert (await store.get(record.id)).status == "scheduled"
