"""Losing one of three NATS servers in the middle of 1,000 tasks loses nothing.

Every stream and bucket has three replicas, so two servers keep a quorum;
the services list every server in NATS_URL and reconnect to a live one. The
server killed is the one leading the most of the system's streams, so the
kill forces leader elections where the work is.
"""

import asyncio
from collections import Counter

from bus import subjects
from tests.cluster.system import ClusterSystem, start_cluster_system
from tests.e2e.system import wait_until

TASKS = 1000
KILL_AFTER_FINAL = 300
"""Kill the server once this many tasks are done: work is in every stage."""

BUSY_STREAMS = [
    subjects.TASKS_STREAM,
    subjects.JOBS_STREAM,
    subjects.EVENTS_STREAM,
    f"KV_{subjects.TASKS_BUCKET}",
    f"OBJ_{subjects.FILES_BUCKET}",
]


async def busiest_server(system: ClusterSystem) -> str:
    """The server that leads the most of the system's streams right now."""
    leaders: Counter = Counter()
    for stream in BUSY_STREAMS:
        info = await system.js.stream_info(stream)
        leaders[info.cluster.leader] += 1
    return leaders.most_common(1)[0][0]


async def test_killing_a_server_mid_run_completes_every_task_exactly_once():
    system = await start_cluster_system()
    try:
        # Everything is queued before the services start, so the kill lands
        # with most of the work still in the streams and buckets.
        finished = await system.watch_finishes()
        accepted = await system.submit_many(TASKS)
        system.start_hub_service("coordinator", "coordinator", POLICY="greedy")
        system.start_hub_service("edge", "edge_node", NODE_ID="edge-1")
        system.start_hub_service("cloud", "cloud_node", NODE_ID="cloud-1")

        await wait_until(
            lambda: asyncio.sleep(0, len(finished) >= KILL_AFTER_FINAL),
            120,
            f"{KILL_AFTER_FINAL} tasks to finish",
            interval_s=0.02,
        )
        victim = await busiest_server(system)
        finished_at_kill = len(finished)
        system.cluster.kill(victim)

        records = await system.final_records(accepted, finished, timeout_s=150)
        completions = await system.completions_per_task()
        survivors = {
            hub.name: hub.monitor("jsz")["meta_cluster"].get("leader")
            for hub in system.cluster.hubs
            if hub.running
        }
    finally:
        await system.shutdown()

    statuses = Counter(record.status for record in records)
    duplicated = {task: n for task, n in completions.items() if n > 1}
    print(
        f"killed {victim} with {finished_at_kill} of {TASKS} tasks done; "
        f"accepted {len(accepted)}, completed {statuses['completed']}, "
        f"failed {statuses['failed']}, duplicated completions {len(duplicated)}; "
        f"meta leader now {set(survivors.values())}"
    )
    assert finished_at_kill < TASKS, "the kill came after the work was done"
    assert victim not in survivors.values()
    assert statuses == {"completed": TASKS}, [
        (r.id, r.status, r.error) for r in records if r.status != "completed"
    ]
    assert sorted(completions) == sorted(accepted)
    assert duplicated == {}
