"""The live event stream: task and node changes as server-sent events."""

import asyncio
import json
import time

import aiohttp
import pytest

from bus.nodes import nodes_bucket, publish_heartbeat, withdraw
from bus.schemas import NodeStatus
from tests.web.helpers import upload_one
from web import sse
from web.keys import EVENTS
from web.live import Event, Subscriber

PNG = "image/png"
WAIT_S = 5.0


class EventReader:
    """Reads one server-sent event stream, event by event."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.comments: list[str] = []

    async def next(self) -> dict[str, str]:
        """The next event's fields (id, event, data)."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(WAIT_S):
            while True:
                line = (await self.response.content.readline()).decode()
                if line == "":
                    raise EOFError("the stream ended")
                line = line.rstrip("\n")
                if line == "":
                    if "event" in fields:
                        return fields
                    continue
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                name, _, value = line.partition(": ")
                fields[name] = value

    async def until(self, name: str, match) -> dict:
        """Skip events until one named `name` whose data satisfies `match`."""
        while True:
            event = await self.next()
            data = json.loads(event["data"])
            if event["event"] == name and match(data):
                return {**event, "data": data}


async def open_stream(client, **headers: str) -> EventReader:
    response = await client.get("/api/v1/events", headers=headers)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    return EventReader(response)


def heartbeat(node_id: str) -> NodeStatus:
    now = time.time()
    return NodeStatus(
        node_id=node_id,
        tier="edge",
        speed=1.0,
        backlog_s=0.0,
        capacity=2,
        running=0,
        queued=0,
        completed=0,
        failed=0,
        started_at=now,
        heartbeat_at=now,
    )


async def test_uploads_changes_and_deletes_stream_as_task_events(client, media_dir):
    stream = await open_stream(client)
    photo = (media_dir / "chelsea.png").read_bytes()

    task = await upload_one(client, ("chelsea.png", photo, PNG))
    created = await stream.until("task", lambda d: d["id"] == task["id"])
    await client.post(f"/api/v1/tasks/{task['id']}/schedule")
    scheduled = await stream.until(
        "task", lambda d: d["id"] == task["id"] and d["status"] == "scheduled"
    )
    await client.delete(f"/api/v1/tasks/{task['id']}")
    deleted = await stream.until("task-deleted", lambda d: d["id"] == task["id"])

    assert created["data"] == task
    assert scheduled["data"]["scheduled_at"] is not None
    assert deleted["data"] == {"id": task["id"]}
    ids = [created["id"], scheduled["id"], deleted["id"]]
    assert [int(i.rsplit("-", 1)[1]) for i in ids] == sorted(
        int(i.rsplit("-", 1)[1]) for i in ids
    )


async def test_heartbeats_stream_as_node_events_and_a_withdrawal_as_node_gone(
    client, js
):
    stream = await open_stream(client)
    kv = await nodes_bucket(js)

    await publish_heartbeat(kv, heartbeat("events-test-edge"))
    try:
        node = await stream.until("node", lambda d: d["node_id"] == "events-test-edge")
    finally:
        await withdraw(kv, "events-test-edge")
    gone = await stream.until("node-gone", lambda d: d["node_id"] == "events-test-edge")

    assert node["data"]["tier"] == "edge"
    assert 0 <= node["data"]["age_s"] < 3
    assert gone["data"] == {"node_id": "events-test-edge"}


async def test_a_reconnecting_client_gets_what_it_missed(client, media_dir):
    photo = (media_dir / "chelsea.png").read_bytes()
    stream = await open_stream(client)
    first = await upload_one(client, ("a.png", photo, PNG))
    seen = await stream.until("task", lambda d: d["id"] == first["id"])
    stream.response.close()

    missed = await upload_one(client, ("b.png", photo, PNG))
    resumed = await open_stream(client, **{"Last-Event-ID": seen["id"]})
    replayed = await resumed.until("task", lambda d: d["id"] == missed["id"])

    assert replayed["data"]["filename"] == "b.png"


async def test_an_unknown_last_event_id_gives_only_new_changes(client, media_dir):
    photo = (media_dir / "chelsea.png").read_bytes()
    before = await upload_one(client, ("a.png", photo, PNG))
    stream = await open_stream(client, **{"Last-Event-ID": "another-process-7"})
    after = await upload_one(client, ("b.png", photo, PNG))

    event = await stream.next()

    assert json.loads(event["data"])["id"] == after["id"] != before["id"]


async def test_a_quiet_stream_sends_keep_alive_comments(client, monkeypatch):
    monkeypatch.setattr(sse, "KEEPALIVE_S", 0.05)
    stream = await open_stream(client)

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await stream.next()

    assert "connected" in stream.comments
    assert "keep-alive" in stream.comments


async def test_task_changes_are_followed_only_while_somebody_listens(client):
    hub = client.app[EVENTS]
    hub._linger_s = 0.05
    assert not hub.following_tasks

    stream = await open_stream(client)
    assert hub.following_tasks and hub.subscriber_count == 1
    stream.response.close()
    for _ in range(250):
        if not hub.following_tasks:
            break
        await asyncio.sleep(0.02)

    assert not hub.following_tasks
    assert hub.subscriber_count == 0


async def test_stopping_the_service_ends_open_streams(client):
    stream = await open_stream(client)

    client.app[EVENTS].close_streams()

    with pytest.raises(EOFError):
        await stream.next()


def event(seq: int, key: str) -> Event:
    return Event(seq, "task", key, data={"id": key, "seq": seq})


def test_a_slow_subscriber_keeps_only_the_latest_change_of_each_task():
    subscriber = Subscriber(max_pending=10)

    for seq, key in enumerate(["a", "b", "a", "c", "a"], start=1):
        subscriber.offer(event(seq, key))
    taken = subscriber.take()

    assert [(e.key, e.seq) for e in taken] == [("b", 2), ("c", 4), ("a", 5)]
    assert not subscriber.dropped


def test_a_subscriber_behind_on_too_many_tasks_is_dropped_and_holds_nothing():
    subscriber = Subscriber(max_pending=3)

    for seq in range(1, 6):
        subscriber.offer(event(seq, f"task-{seq}"))

    assert subscriber.dropped
    assert subscriber.take() == []


async def test_the_hub_forgets_a_dropped_subscriber(client):
    hub = client.app[EVENTS]
    slow = await hub.subscribe()
    slow._max_pending = 2

    for seq in range(5):
        hub.publish("task", f"task:{seq}", data={"id": str(seq)})

    assert slow.dropped
    assert hub.subscriber_count == 0
    hub.unsubscribe(slow)


def test_an_event_frame_has_an_id_a_name_and_one_line_of_json():
    frame = Event(7, "task-deleted", "task:x", data={"id": "x\ny"}).frame("boot")

    assert frame == b'id: boot-7\nevent: task-deleted\ndata: {"id":"x\\ny"}\n\n'
