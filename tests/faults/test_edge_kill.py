"""An edge node is killed (kill -9) in the middle of a video task."""

import asyncio

from bus.task_store import KvTaskStore
from tests.e2e.system import wait_until
from tests.faults.system import FaultSystem, fault_system

SLOW = "0.01"
"""The first node's speed factor: the clip takes some 15 s there, so the kill
lands while it runs."""


async def video_running_on(faults: FaultSystem, media_dir, node_id: str) -> str:
    """Upload the clip and wait until its record says it runs on `node_id`."""
    clip = (media_dir / "chelsea-pan.mp4").read_bytes()
    [task_id] = await faults.upload([("clip.mp4", clip, "video/mp4")], "grayscale")
    store = await KvTaskStore.open(faults.js)

    async def running() -> bool:
        record = await store.get(task_id)
        return record.status == "running" and record.node_id == node_id

    await wait_until(running, 60, f"the clip to run on {node_id}")
    await asyncio.sleep(1.0)  # well inside the job
    return task_id


async def test_a_video_whose_edge_node_dies_is_replanned_and_completes_once(
    media_dir,
):
    async with fault_system(POLICY="greedy") as faults:
        faults.start("coordinator", "coordinator")
        faults.start("edge-a", "edge_node", NODE_ID="edge-a", SPEED_FACTOR=SLOW)
        await faults.start_web()
        await faults.wait_for_nodes("edge-a")
        task_id = await video_running_on(faults, media_dir, "edge-a")

        faults.system.stop("edge-a", kill=True)
        faults.start("edge-b", "edge_node", NODE_ID="edge-b")
        await faults.ledger.wait_all_final(90)
        tally = await faults.ledger.tally(faults.coordinator_logs())
        record = await (await KvTaskStore.open(faults.js)).get(task_id)

        print(f"\nre-planned: {tally.line()}")
        assert tally.completed == 1 and tally.duplicated == 0
        assert tally.completed_events == 1 and tally.missing_outputs == 0
        assert record.node_id == "edge-b" and record.attempts == 2
        assert record.explanation["replanned_from"] == "edge-a"
        assert "edge node edge-a is gone: re-planned 1" in faults.system.log(
            "coordinator"
        )
        output = await faults.http.get(
            f"{faults.system.web_url}/api/v1/tasks/{task_id}/output"
        )
        assert output.status == 200 and output.content_type == "video/mp4"


async def test_a_video_whose_edge_node_returns_at_once_completes_there_once(
    media_dir,
):
    # Heartbeats expire after 10 s here, so the node is back long before the
    # coordinator would take it for dead; the job comes back to it when its
    # lease (4 s, refreshed while it runs) runs out.
    lease = {"JOB_ACK_WAIT_S": "4", "NODE_TTL_S": "10"}
    async with fault_system(POLICY="greedy", NODE_TTL_S="10") as faults:
        faults.start("coordinator", "coordinator")
        faults.start(
            "edge-a", "edge_node", NODE_ID="edge-a", SPEED_FACTOR=SLOW, **lease
        )
        await faults.start_web()
        await faults.wait_for_nodes("edge-a")
        task_id = await video_running_on(faults, media_dir, "edge-a")

        faults.system.stop("edge-a", kill=True)
        faults.start("edge-a-again", "edge_node", NODE_ID="edge-a", **lease)
        await faults.ledger.wait_all_final(90)
        tally = await faults.ledger.tally(faults.coordinator_logs())
        record = await (await KvTaskStore.open(faults.js)).get(task_id)

        print(f"\nreturned: {tally.line()}")
        assert tally.completed == 1 and tally.duplicated == 0
        assert tally.completed_events == 1 and tally.missing_outputs == 0
        assert record.node_id == "edge-a" and record.attempts == 1
        assert "re-planned" not in faults.system.log("coordinator")
        assert "scratch files of an earlier run" in faults.system.log("edge-a-again")
