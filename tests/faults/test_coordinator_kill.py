"""The coordinator is killed (kill -9) with 200 tasks scheduled, then restarted."""

import asyncio
import time
from collections import Counter

from tests.e2e.system import wait_until
from tests.faults.system import fault_system, small_png

TASKS = 200
PER_UPLOAD = 20


async def test_every_task_completes_once_after_the_coordinator_is_killed():
    async with fault_system(POLICY="greedy") as faults:
        faults.start("coordinator", "coordinator", COORDINATOR_ID="coord-1")
        faults.start("edge", "edge_node", NODE_ID="edge-1", SPEED_FACTOR="0.2")
        faults.start("cloud", "cloud_node", NODE_ID="cloud-1", SPEED_FACTOR="0.2")
        await faults.start_web()
        await faults.wait_for_nodes("edge-1", "cloud-1")

        data = small_png(64)
        uploads = [
            [(f"p{first + i}.png", data, "image/png") for i in range(PER_UPLOAD)]
            for first in range(0, TASKS, PER_UPLOAD)
        ]
        await asyncio.gather(*(faults.upload(files, "grayscale") for files in uploads))
        # Killed as the first results come in: some tasks placed and running,
        # some only scheduled, some events not yet recorded.
        await wait_until(
            lambda: asyncio.sleep(
                0, list(faults.ledger.status.values()).count("completed") >= 10
            ),
            60,
            "the first completions",
            interval_s=0.01,
        )
        faults.system.stop("coordinator", kill=True)
        at_kill = Counter(faults.ledger.status.values())
        killed_at = time.monotonic()
        faults.start("coordinator-again", "coordinator", COORDINATOR_ID="coord-2")
        await faults.ledger.wait_all_final(120)
        recovered_s = time.monotonic() - killed_at
        tally = await faults.ledger.tally(faults.coordinator_logs())

        print(f"\nat the kill: {dict(at_kill)}; all final {recovered_s:.1f}s later")
        print(tally.line())
        assert at_kill["completed"] < TASKS
        assert tally.accepted == TASKS
        assert tally.completed == TASKS, tally.errors
        assert tally.duplicated == 0 and tally.repeated == 0
        assert tally.lost == 0 and tally.strays == 0 and tally.missing_outputs == 0
        assert "coord-2 is now the leader" in faults.system.log("coordinator-again")
