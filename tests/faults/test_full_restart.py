"""Every service and nats-server stopped (SIGTERM) mid-run and started again."""

import asyncio
import time

from tests.e2e.system import wait_until
from tests.faults.system import FaultSystem, fault_system, small_png

TASKS = 300
PER_UPLOAD = 10
SERVICES = {
    "coordinator": ("coordinator", {}),
    "edge": ("edge_node", {"NODE_ID": "edge-1", "SPEED_FACTOR": "0.1"}),
    "cloud": ("cloud_node", {"NODE_ID": "cloud-1", "SPEED_FACTOR": "0.1"}),
}
STOP_DEADLINE_S = 40.0
"""A stopping node lets running jobs finish (SHUTDOWN_GRACE_S, 30 s)."""


async def start_all(faults: FaultSystem) -> None:
    for name, (module, env) in SERVICES.items():
        faults.start(name, module, **env)
    await faults.start_web()
    await faults.wait_for_nodes("edge-1", "cloud-1")


def stop_all(faults: FaultSystem) -> dict[str, tuple[int, float]]:
    """SIGTERM every service at once; each one's exit status and seconds."""
    processes = dict(faults.system.processes)
    began = time.monotonic()
    for process in processes.values():
        process.terminate()
    stopped = {}
    for name, process in processes.items():
        status = process.wait(timeout=STOP_DEADLINE_S)
        stopped[name] = (status, round(time.monotonic() - began, 1))
        faults.system.processes.pop(name)
    return stopped


async def test_nothing_accepted_is_lost_when_everything_restarts():
    async with fault_system(POLICY="greedy") as faults:
        await start_all(faults)
        data = small_png(64)

        async def submit(first: int) -> None:
            files = [(f"r{first + i}.png", data, "image/png") for i in range(10)]
            await faults.upload_until_accepted(files, "grayscale")

        # Half before the stop; the rest keeps coming while everything is
        # down and comes back.
        await asyncio.gather(*(submit(n) for n in range(0, TASKS // 2, PER_UPLOAD)))
        await wait_until(
            lambda: asyncio.sleep(
                0, list(faults.ledger.status.values()).count("completed") >= 20
            ),
            60,
            "the first completions",
            interval_s=0.01,
        )
        late = asyncio.create_task(
            asyncio.wait_for(
                asyncio.gather(
                    *(submit(n) for n in range(TASKS // 2, TASKS, PER_UPLOAD))
                ),
                180,
            )
        )
        stopped = await asyncio.to_thread(stop_all, faults)
        await asyncio.to_thread(faults.restart_nats, 1.0, False)
        await start_all(faults)
        await late
        await faults.ledger.wait_all_final(180)
        tally = await faults.ledger.tally(faults.coordinator_logs())
        logs = {name: faults.system.log(name) for name in stopped}

    print(f"\nstopped (exit status, seconds): {stopped}")
    print(tally.line())
    assert {status for status, _ in stopped.values()} == {0}
    assert "coordinator stopped:" in logs["coordinator"]
    assert "node edge-1 stopped after" in logs["edge"]
    assert "node cloud-1 stopped after" in logs["cloud"]
    assert "shutting down" in logs["web"]
    assert tally.accepted == TASKS
    assert tally.completed == TASKS, tally.errors
    assert tally.duplicated == 0 and tally.repeated == 0
    assert tally.lost == 0 and tally.strays == 0 and tally.missing_outputs == 0
