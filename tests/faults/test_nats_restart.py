"""nats-server is killed and restarted in the middle of a run of 500 tasks."""

import asyncio
import time

from tests.e2e.system import wait_until
from tests.faults.system import FaultSystem, fault_system, small_png

TASKS = 500
PER_UPLOAD = 10
AT_ONCE = 4
RESTART_AFTER = 150


async def submit(faults: FaultSystem, count: int) -> None:
    """Upload `count` small tasks, PER_UPLOAD per request, AT_ONCE at a time."""
    gate = asyncio.Semaphore(AT_ONCE)
    data = small_png()

    async def one(first: int) -> None:
        files = [(f"p{first + i}.png", data, "image/png") for i in range(PER_UPLOAD)]
        async with gate:
            await faults.upload_until_accepted(files, "grayscale")

    await asyncio.gather(*(one(first) for first in range(0, count, PER_UPLOAD)))


async def test_every_task_completes_once_across_a_nats_server_restart():
    async with fault_system(POLICY="greedy") as faults:
        faults.start("coordinator", "coordinator")
        faults.start("edge", "edge_node", NODE_ID="edge-1")
        faults.start("cloud", "cloud_node", NODE_ID="cloud-1")
        await faults.start_web()
        await faults.wait_for_nodes("edge-1", "cloud-1")
        began = time.monotonic()

        submitting = asyncio.create_task(submit(faults, TASKS))
        await wait_until(
            lambda: asyncio.sleep(0, len(faults.ledger.accepted) >= RESTART_AFTER),
            60,
            f"{RESTART_AFTER} accepted tasks",
            interval_s=0.01,
        )
        away_s = await asyncio.to_thread(faults.restart_nats, 2.0)
        await submitting
        await faults.ledger.wait_all_final(240)
        took_s = time.monotonic() - began
        tally = await faults.ledger.tally(faults.coordinator_logs())

        print(
            f"\nnats-server away {away_s:.1f}s; {len(faults.refusals)} uploads "
            f"refused meanwhile; all final {took_s:.1f}s after the first upload"
        )
        print(tally.line())
        assert tally.accepted == TASKS
        assert tally.completed == TASKS, tally.errors
        assert tally.duplicated == 0
        assert tally.lost == 0 and tally.strays == 0
        assert tally.missing_outputs == 0
        for refusal in faults.refusals:
            assert refusal.body["error"], refusal.body
        for service in ("coordinator", "edge", "cloud", "web"):
            assert faults.system.processes[service].poll() is None, service
