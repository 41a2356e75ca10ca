"""An edge node dies with jobs queued: they are re-planned onto a live node."""

import asyncio
from collections import Counter

from bus import subjects
from bus.connection import close, connect, jetstream
from bus.file_store import FileStore
from bus.nats_server import wait_for_jetstream
from bus.nodes import NodeDirectory, nodes_bucket
from bus.provision import provision
from bus.schemas import TaskEvent
from bus.settings import BusSettings
from bus.task_store import KvTaskStore
from tests.e2e.system import start_system, wait_until
from tests.e2e.test_coordinator_and_nodes import submit

NODE_TTL_S = 2.0
TASKS = 12


async def completed_events(js) -> list[TaskEvent]:
    """Every `completed` event in the EVENTS stream."""
    subscription = await js.pull_subscribe(
        subjects.task_event("completed"), stream=subjects.EVENTS_STREAM
    )
    found: list[TaskEvent] = []
    try:
        while True:
            try:
                messages = await subscription.fetch(500, timeout=1.0)
            except TimeoutError:
                return found
            for message in messages:
                found.append(TaskEvent.decode(message.data))
                await message.ack()
    finally:
        await subscription.unsubscribe()


async def test_queue_of_a_killed_edge_node_completes_once_on_the_survivor(media_dir):
    system = start_system()
    ttl = {"NODE_TTL_S": str(NODE_TTL_S)}
    settings = BusSettings(nats_url=system.server.url, node_ttl_s=NODE_TTL_S)
    await wait_for_jetstream(settings.nats_url)
    nc = await connect(settings, "e2e-replan")
    js = jetstream(nc)
    await provision(js, settings)
    directory = NodeDirectory(await nodes_bucket(js), NODE_TTL_S)
    await directory.start()

    def live_ids() -> set[str]:
        return {node.node_id for node in directory.live()}

    try:
        system.start("coordinator", "coordinator", **ttl)
        # Twenty times slower, one job at a time: its queue builds up.
        system.start(
            "slow",
            "edge_node",
            NODE_ID="edge-slow",
            SPEED_FACTOR="0.05",
            COMPUTE_THREADS="1",
            NODE_CONCURRENCY="1",
            **ttl,
        )
        await wait_until(
            lambda: asyncio.sleep(0, live_ids() == {"edge-slow"}), 60, "edge-slow"
        )
        store = await KvTaskStore.open(js)
        files = FileStore(js)
        data = (media_dir / "coffee.png").read_bytes()
        # With only the slow node live, every task is queued for it.
        task_ids = await asyncio.gather(
            *[
                submit(js, store, files, data, f"c{i}.png", "image", "blur", radius=3)
                for i in range(TASKS)
            ]
        )
        system.start("fast", "edge_node", NODE_ID="edge-fast", **ttl)
        await wait_until(
            lambda: asyncio.sleep(0, live_ids() == {"edge-slow", "edge-fast"}),
            60,
            "edge-fast",
        )

        async def slow_has_finished_one() -> bool:
            records = [await store.get(task_id) for task_id in task_ids]
            return any(record.status == "completed" for record in records)

        await wait_until(slow_has_finished_one, 60, "a completion on edge-slow")
        system.stop("slow", kill=True)

        async def all_final() -> list | None:
            records = [await store.get(task_id) for task_id in task_ids]
            return records if all(record.is_final for record in records) else None

        records = await wait_until(all_final, 60, "every task to finish")

        assert [r.id for r in records if r.status != "completed"] == []
        on_slow = [r for r in records if r.node_id == "edge-slow"]
        moved = [r for r in records if r.node_id != "edge-slow"]
        assert 1 <= len(on_slow) < TASKS - 1, "edge-slow had no queue when killed"
        assert {r.attempts for r in on_slow} == {1}
        assert {r.node_id for r in moved} == {"edge-fast"}
        assert {r.attempts for r in moved} == {2}
        assert {r.explanation["replanned_from"] for r in moved} == {"edge-slow"}
        events = await completed_events(js)
        assert Counter(event.task_id for event in events) == dict.fromkeys(task_ids, 1)
        by_task = {r.id: r for r in records}
        for event in events:
            assert event.attempt == by_task[event.task_id].attempts
            assert event.node_id == by_task[event.task_id].node_id
        assert "edge node edge-slow is gone: re-planned" in system.log("coordinator")
    finally:
        await directory.close()
        await close(nc)
        system.shutdown()
