"""A burst of 10,000 small tasks: all complete once, and memory stays bounded."""

import asyncio
import time

import pytest

from tests.e2e.system import wait_until
from tests.faults.system import fault_system, small_png

TASKS = 10_000
PER_UPLOAD = 100
AT_ONCE = 4
MEMORY_LIMIT_MB = 500.0
"""The web service's and the coordinator's peak resident memory must stay below."""


@pytest.mark.parametrize("policy", ["greedy", "dqn"])
async def test_ten_thousand_tasks_complete_once_within_the_memory_targets(policy):
    async with fault_system(POLICY=policy) as faults:
        faults.start("coordinator", "coordinator")
        faults.start("edge", "edge_node", NODE_ID="edge-1")
        faults.start("cloud", "cloud_node", NODE_ID="cloud-1")
        await faults.start_web()
        await faults.wait_for_nodes("edge-1", "cloud-1")
        await wait_until(
            lambda: asyncio.sleep(
                0, f"policy {policy} ready" in faults.system.log("coordinator")
            ),
            120,
            f"the {policy} policy to be ready",
        )
        before = faults.peak_memory_mb()

        data = [small_png(32, shade) for shade in range(8)]
        gate = asyncio.Semaphore(AT_ONCE)

        async def one(first: int) -> None:
            files = [
                (f"b{first + i}.png", data[i % len(data)], "image/png")
                for i in range(PER_UPLOAD)
            ]
            async with gate:
                await faults.upload(files, "grayscale")

        began = time.monotonic()
        await asyncio.gather(*(one(first) for first in range(0, TASKS, PER_UPLOAD)))
        uploaded_s = time.monotonic() - began
        await faults.ledger.wait_all_final(600)
        finished_s = time.monotonic() - began
        peaks = faults.peak_memory_mb()
        tally = await faults.ledger.tally(faults.coordinator_logs())

        print(
            f"\n{policy}: {TASKS} uploaded in {uploaded_s:.1f}s, all final after "
            f"{finished_s:.1f}s; peak memory MB before the burst {before}, "
            f"after it {peaks}"
        )
        print(tally.line())
        assert tally.accepted == TASKS
        assert tally.completed == TASKS, tally.errors
        assert tally.duplicated == 0 and tally.repeated == 0
        assert tally.lost == 0 and tally.strays == 0 and tally.missing_outputs == 0
        # With the DQN, JAX and the compiled policy hold some 420 MB of it
        # before the first task (coordinator/xla_memory.py).
        assert peaks["web"] < MEMORY_LIMIT_MB, peaks
        assert peaks["coordinator"] < MEMORY_LIMIT_MB, peaks
