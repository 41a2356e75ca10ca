"""Retry and cancel: allowed moves, 409 for the rest, never a lost write."""

import uuid

import pytest

from bus.task_store import KvTaskStore
from tests.factories import task_record
from tests.web.helpers import last_tasks_seq, scheduled_since, stored_task
from web.transitions import restored, retried


async def set_fields(js, task_id: str, **fields) -> None:
    """Play the coordinator's or a node's part with a store of its own."""

    def change(record) -> bool:
        for name, value in fields.items():
            setattr(record, name, value)
        return True

    await (await KvTaskStore.open(js)).update(task_id, change)


@pytest.mark.parametrize("status", ["failed", "cancelled"])
async def test_retry_schedules_a_finished_task_again_keeping_its_attempts(
    client, js, status
):
    task = await stored_task(
        js,
        b"input",
        status=status,
        attempts=2,
        error="decoder gave up",
        tier="cloud",
        node_id="cloud-1",
        completed_at=1.0,
        total_ms=5.0,
        explanation={"policy": "dqn"},
    )
    seq = await last_tasks_seq(js)

    response = await client.post(f"/api/v1/tasks/{task.id}/retry")

    assert response.status == 200
    body = await response.json()
    assert body["status"] == "scheduled"
    assert body["attempts"] == 2
    assert body["error"] is None
    assert body["tier"] is None and body["node_id"] is None
    assert body["completed_at"] is None and body["total_ms"] is None
    assert body["explanation"] is None
    assert body["scheduled_at"] > 1.0
    assert await scheduled_since(js, seq) == [task.id]
    stored = await (await KvTaskStore.open(js)).get(task.id)
    assert stored.status == "scheduled" and stored.attempts == 2


async def test_a_task_retried_twice_is_announced_twice(client, js):
    task = await stored_task(js, b"input", status="failed")
    seq = await last_tasks_seq(js)

    first = await client.post(f"/api/v1/tasks/{task.id}/retry")
    cancelled = await client.post(f"/api/v1/tasks/{task.id}/cancel")
    second = await client.post(f"/api/v1/tasks/{task.id}/retry")

    assert [r.status for r in (first, cancelled, second)] == [200, 200, 200]
    # Each retry has a message id of its own, so JetStream drops neither.
    assert await scheduled_since(js, seq) == [task.id, task.id]


@pytest.mark.parametrize("status", ["uploaded", "scheduled", "running", "completed"])
async def test_retry_of_a_task_that_has_not_failed_is_a_409(client, js, status):
    task = await stored_task(js, b"input", status=status)
    seq = await last_tasks_seq(js)

    response = await client.post(f"/api/v1/tasks/{task.id}/retry")

    assert response.status == 409
    body = await response.json()
    assert body["task_status"] == status
    assert "failed or cancelled" in body["error"]
    assert await scheduled_since(js, seq) == []


@pytest.mark.parametrize("status", ["uploaded", "scheduled", "placed", "running"])
async def test_cancel_stops_a_task_that_has_not_finished(client, js, status):
    task = await stored_task(js, b"input", status=status, progress=0.5)

    response = await client.post(f"/api/v1/tasks/{task.id}/cancel")

    assert response.status == 200
    body = await response.json()
    assert body["status"] == "cancelled"
    assert body["error"]
    stored = await (await KvTaskStore.open(js)).get(task.id)
    assert stored.status == "cancelled"


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
async def test_cancel_of_a_finished_task_is_a_409(client, js, status):
    task = await stored_task(js, b"input", status=status)

    response = await client.post(f"/api/v1/tasks/{task.id}/cancel")

    assert response.status == 409
    assert (await response.json())["task_status"] == status


async def test_cancel_never_overwrites_a_completion_written_meanwhile(client, js):
    task = await stored_task(js, b"input", status="running")
    # The web service reads the record (its cache now holds this revision)...
    assert (await client.get(f"/api/v1/tasks/{task.id}")).status == 200
    # ...then the coordinator records the completion.
    await set_fields(js, task.id, status="completed", progress=1.0)

    response = await client.post(f"/api/v1/tasks/{task.id}/cancel")

    assert response.status == 409
    stored = await (await KvTaskStore.open(js)).get(task.id)
    assert stored.status == "completed"


@pytest.mark.parametrize("action", ["retry", "cancel"])
async def test_retry_and_cancel_of_an_unknown_task_are_404(client, action):
    response = await client.post(f"/api/v1/tasks/{uuid.uuid4().hex}/{action}")

    assert response.status == 404
    assert (await response.json())["field"] == "id"


def test_a_retry_whose_announcement_failed_is_undone_unless_the_task_moved_on():
    original = task_record(status="failed", error="boom", attempts=3, tier="edge")
    before: list = []
    record = original.copy()
    retried(100.0, before)(record)
    moved_on = record.copy()
    moved_on.status = "placed"

    assert restored(100.0, before[0])(record) is True
    assert record == original
    assert restored(100.0, before[0])(moved_on) is False
    assert moved_on.status == "placed"


async def test_dead_letters_are_listed_latest_first_and_a_retry_takes_one_off(
    client, js
):
    older = await stored_task(
        js,
        b"input",
        status="failed",
        attempts=1,
        error="gave up after 3 tries of attempt 1: edge-a: TimeoutError",
        dead_letter={"cause": "deliveries", "tries": 3, "attempt": 1, "at": 10.0},
    )
    newer = await stored_task(
        js,
        b"input",
        status="failed",
        attempts=3,
        error="gave up after 3 tries: the node it was sent to stopped each time",
        dead_letter={"cause": "replans", "tries": 3, "attempt": 3, "at": 20.0},
    )
    plain_failure = await stored_task(js, b"input", status="failed", error="bad")

    listed = await (await client.get("/api/v1/deadletter")).json()

    ids = [task["id"] for task in listed["tasks"]]
    assert ids.index(newer.id) < ids.index(older.id)
    assert plain_failure.id not in ids
    assert listed["total"] == len(ids)
    [shown] = [task for task in listed["tasks"] if task["id"] == older.id]
    assert shown["dead_letter"]["cause"] == "deliveries"
    assert shown["error"].startswith("gave up after 3 tries")

    retried_task = await (await client.post(f"/api/v1/tasks/{older.id}/retry")).json()
    assert retried_task["dead_letter"] is None
    after = await (await client.get("/api/v1/deadletter")).json()
    assert older.id not in [task["id"] for task in after["tasks"]]
    assert after["total"] == listed["total"] - 1
