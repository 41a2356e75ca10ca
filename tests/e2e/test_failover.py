"""One active coordinator: a standby takes over a killed leader, losing nothing."""

import asyncio
import io
import os
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from PIL import Image

from bus import subjects
from bus.connection import close, connect, jetstream
from bus.file_store import FileStore
from bus.nats_server import wait_for_jetstream
from bus.nodes import NodeDirectory, nodes_bucket
from bus.provision import LEADER_TTL_S, provision
from bus.schemas import TaskEvent, TaskRecord
from bus.settings import BusSettings
from bus.task_store import KvTaskStore
from coordinator.leadership import (
    Leadership,
    LeadershipSettings,
    current_leader,
    leader_bucket,
)
from tests.e2e.system import RunningSystem, start_system, wait_until
from tests.e2e.test_coordinator_and_nodes import submit

TASKS = 100


def small_png() -> bytes:
    """A 64x64 photo-like PNG: cheap to store and to process."""
    buffer = io.BytesIO()
    Image.radial_gradient("L").resize((64, 64)).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


async def completions_per_task(js) -> Counter:
    """How many `completed` events the EVENTS stream holds for each task."""
    subscription = await js.pull_subscribe(
        subjects.task_event("completed"), stream=subjects.EVENTS_STREAM
    )
    counts: Counter = Counter()
    try:
        while True:
            try:
                messages = await subscription.fetch(500, timeout=1.0)
            except TimeoutError:
                return counts
            for message in messages:
                counts[TaskEvent.decode(message.data).task_id] += 1
                await message.ack()
    finally:
        await subscription.unsubscribe()


async def test_only_one_contender_believes_it_leads_at_any_moment(js):
    kv = await leader_bucket(js)
    contenders = [
        Leadership(
            kv, LeadershipSettings(f"contender-{i}", standby_poll_s=0.05), LEADER_TTL_S
        )
        for i in range(3)
    ]
    stops = [asyncio.Event() for _ in contenders]
    runs = [
        asyncio.create_task(c.run(stop))
        for c, stop in zip(contenders, stops, strict=True)
    ]
    most_at_once = 0

    async def sample(duration_s: float) -> None:
        nonlocal most_at_once
        deadline = time.monotonic() + duration_s
        while time.monotonic() < deadline:
            most_at_once = max(most_at_once, sum(c.leading for c in contenders))
            await asyncio.sleep(0.005)

    try:
        await sample(1.5)
        first = next(c for c in contenders if c.leading)
        assert await current_leader(kv) == first.coordinator_id

        # The leader freezes without a word, as a killed or paused process
        # would: it keeps believing until its own lease ends, and nobody else
        # may believe before then.
        runs[contenders.index(first)].cancel()
        await sample(LEADER_TTL_S + 1.5)
        second = next(c for c in contenders if c.leading)
        assert second is not first
        assert not first.leading

        # A clean shutdown hands over without waiting for the key to expire.
        began = time.monotonic()
        stops[contenders.index(second)].set()
        await second.release()
        await wait_until(
            lambda: asyncio.sleep(0, sum(c.leading for c in contenders) == 1),
            2,
            "a third leader",
            interval_s=0.01,
        )
        assert time.monotonic() - began < 1.0
        assert most_at_once == 1
    finally:
        for stop in stops:
            stop.set()
        await asyncio.gather(*runs, return_exceptions=True)
        for contender in contenders:
            await contender.release()


@dataclass
class Bus:
    """A fresh system and the test's own view of it."""

    system: RunningSystem
    js: JetStreamContext
    store: KvTaskStore
    files: FileStore
    directory: NodeDirectory
    leader_kv: KeyValue

    async def submit_many(self, count: int, first: int = 0) -> list[str]:
        """Schedule `count` small grayscale tasks at once."""
        data = small_png()
        return list(
            await asyncio.gather(
                *[
                    submit(
                        self.js,
                        self.store,
                        self.files,
                        data,
                        f"p{i}.png",
                        "image",
                        "grayscale",
                    )
                    for i in range(first, first + count)
                ]
            )
        )

    async def all_final(self, task_ids: list[str]) -> list[TaskRecord]:
        """Wait until every task is final, and return the records."""

        async def check() -> list[TaskRecord] | None:
            records = [await self.store.get(task_id) for task_id in task_ids]
            return records if all(record.is_final for record in records) else None

        return await wait_until(check, 60, "every task to finish")

    async def wait_for_leader(self, name: str) -> None:
        """Until `name` holds the leader key."""

        async def leads() -> bool:
            return await current_leader(self.leader_kv) == name

        await wait_until(leads, 30, f"{name} to lead")

    async def wait_for_log(self, service: str, text: str) -> None:
        """Until a service has logged `text`."""
        await wait_until(
            lambda: asyncio.sleep(0, text in self.system.log(service)),
            30,
            f"{service} to log {text!r}",
        )


@pytest.fixture
async def bus() -> AsyncIterator[Bus]:
    """Coordinators coord-a (leading) and coord-b (standing by), edge and cloud."""
    system = start_system()
    settings = BusSettings(nats_url=system.server.url, node_ttl_s=3.0)
    await wait_for_jetstream(settings.nats_url)
    nc = await connect(settings, "e2e-failover")
    js = jetstream(nc)
    await provision(js, settings)
    directory = NodeDirectory(await nodes_bucket(js), 3.0)
    await directory.start()
    view = Bus(
        system,
        js,
        await KvTaskStore.open(js),
        FileStore(js),
        directory,
        await leader_bucket(js),
    )
    try:
        system.start("coord-a", "coordinator", COORDINATOR_ID="coord-a")
        await view.wait_for_leader("coord-a")
        system.start("coord-b", "coordinator", COORDINATOR_ID="coord-b")
        system.start("edge", "edge_node", NODE_ID="edge-a")
        system.start("cloud", "cloud_node", NODE_ID="cloud-a")
        await wait_until(
            lambda: asyncio.sleep(0, len(directory.live()) == 2), 60, "two nodes"
        )
        await view.wait_for_log("coord-b", "coord-b standing by; coord-a leads")
        yield view
    finally:
        await directory.close()
        await close(nc)
        system.shutdown()


def assert_completed_once(records: list[TaskRecord], completions: Counter) -> None:
    """Every task completed on its first attempt, with one completion event."""
    task_ids = [record.id for record in records]
    assert [r.id for r in records if r.status != "completed"] == []
    assert [r.id for r in records if r.attempts != 1] == []
    assert {task_id: completions[task_id] for task_id in task_ids} == dict.fromkeys(
        task_ids, 1
    )


async def test_killed_leader_is_replaced_and_every_task_completes_once(bus):
    # Half in a burst; the leader dies as soon as they flow, and the other
    # half arrives while nobody leads.
    first_half = await bus.submit_many(TASKS // 2)

    async def some_completed() -> bool:
        records = [await bus.store.get(task_id) for task_id in first_half]
        return any(record.status == "completed" for record in records)

    await wait_until(some_completed, 30, "the first completions")
    bus.system.stop("coord-a", kill=True)
    killed_at = time.monotonic()
    second_half = await bus.submit_many(TASKS // 2, first=TASKS // 2)
    records = await bus.all_final(first_half + second_half)
    recovered_s = time.monotonic() - killed_at

    assert await current_leader(bus.leader_kv) == "coord-b"
    assert "coord-b is now the leader" in bus.system.log("coord-b")
    assert_completed_once(records, await completions_per_task(bus.js))
    # Takeover waits for the key to expire; then everything flows again.
    assert recovered_s < LEADER_TTL_S + 10


async def test_paused_leader_steps_down_on_waking_and_takes_no_work(bus):
    coord_a = bus.system.processes["coord-a"]
    os.kill(coord_a.pid, signal.SIGSTOP)
    try:
        await bus.wait_for_leader("coord-b")
        while_paused = await bus.submit_many(20)
        await bus.all_final(while_paused)
    finally:
        os.kill(coord_a.pid, signal.SIGCONT)
    await bus.wait_for_log("coord-a", "coord-a lost leadership")
    await bus.wait_for_log("coord-a", "coord-a standing by; coord-b leads")
    after_waking = await bus.submit_many(20, first=20)
    records = await bus.all_final(while_paused + after_waking)

    assert await current_leader(bus.leader_kv) == "coord-b"
    assert_completed_once(records, await completions_per_task(bus.js))
    # Everything went through coord-b: coord-a recorded nothing at all.
    assert "completed on" not in bus.system.log("coord-a")
