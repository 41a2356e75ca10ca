"""`make bench-bus`: what one task costs on the bus, and what each service costs.

Starts nats-server (one server, or with `--servers 3` a loopback cluster with
three replicas of everything) with its monitoring port, then the coordinator
(greedy placement), the web service, one edge and one cloud node. Tasks are
64x64 PNG grayscale jobs uploaded-and-scheduled over HTTP at a steady rate.

Measured between a snapshot before and after the run, with the idle traffic
of the same span (heartbeats, leader refresh, open pull requests) measured
first and taken away from the message and byte counts:

- messages and bytes per task into and out of the servers (`/varz`), per
  service connection (`/connz`) and between servers (`/routez`);
- JetStream appends per task, per stream (each stream's last sequence);
- CPU milliseconds per task for every process, and from it the tasks per
  second one core would give each service.

Then, with the services idle, how fast one stream of the same replica count
takes 1 KiB records and 128 KiB object-store chunks.
"""

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from nats.js.api import StorageType, StreamConfig

from bench.pipeline import cpu_seconds, tiny_png, upload
from bus import subjects
from bus.connection import close, connect, jetstream
from bus.nats_cluster import LoopbackCluster, start_cluster, wait_for_cluster
from bus.nats_server import free_port
from bus.schemas import TaskEvent
from bus.settings import BusSettings
from tests.e2e.system import RunningSystem, wait_until, web_ready

FILES_PER_REQUEST = 10
COUNTERS = ("in_msgs", "out_msgs", "in_bytes", "out_bytes")
BENCH_CONNECTION = "bench-bus-cost"

SERVICES = {
    "coordinator": "coordinator",
    "web": "web",
    "edge": "edge-node edge-1",
    "cloud": "cloud-node cloud-1",
}
"""Process name -> the name its NATS connection announces."""


@dataclass
class Snapshot:
    """Counters of the whole bus at one moment."""

    at: float
    servers: dict[str, float] = field(default_factory=dict)
    connections: dict[str, dict[str, float]] = field(default_factory=dict)
    routes: dict[str, float] = field(default_factory=dict)
    appends: dict[str, float] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)

    def minus(self, earlier: "Snapshot") -> "Snapshot":
        """Every counter's growth since `earlier`."""
        return Snapshot(
            at=self.at - earlier.at,
            servers=_subtract(self.servers, earlier.servers),
            connections={
                name: _subtract(counters, earlier.connections.get(name, {}))
                for name, counters in self.connections.items()
            },
            routes=_subtract(self.routes, earlier.routes),
            appends=_subtract(self.appends, earlier.appends),
            cpu_ms=_subtract(self.cpu_ms, earlier.cpu_ms),
        )


def _subtract(now: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {key: value - before.get(key, 0) for key, value in now.items()}


def _sum_counters(rows: list[dict]) -> dict[str, float]:
    return {counter: sum(row.get(counter, 0) for row in rows) for counter in COUNTERS}


async def snapshot(
    cluster: LoopbackCluster, system: RunningSystem, js, pids: dict[str, int]
) -> Snapshot:
    """Read every server's counters, every stream's last sequence, every CPU."""
    hubs = [hub for hub in cluster.hubs if hub.running]
    varz = [hub.monitor("varz") for hub in hubs]
    connz = [
        connection
        for hub in hubs
        for connection in hub.monitor("connz?limit=4096")["connections"]
    ]
    routez = [
        route for hub in hubs for route in hub.monitor("routez").get("routes") or []
    ]
    connections = {
        service: _sum_counters([c for c in connz if c.get("name") == announced])
        for service, announced in SERVICES.items()
    }
    appends = {}
    for info in await js.streams_info():
        appends[info.config.name] = info.state.last_seq
    return Snapshot(
        at=time.monotonic(),
        servers=_sum_counters(varz),
        connections=connections,
        routes=_sum_counters(routez),
        appends=appends,
        cpu_ms={name: cpu_seconds(pid) * 1000 for name, pid in pids.items()},
    )


def per_task(run: Snapshot, idle: Snapshot, tasks: int) -> dict:
    """The run's growth less the idle rate over the same span, per task."""
    scale = run.at / idle.at

    def net(now: dict[str, float], quiet: dict[str, float]) -> dict[str, float]:
        return {
            key: round((value - quiet.get(key, 0) * scale) / tasks, 2)
            for key, value in now.items()
        }

    return {
        "servers": net(run.servers, idle.servers),
        "connections": {
            name: net(counters, idle.connections.get(name, {}))
            for name, counters in run.connections.items()
        },
        "routes": net(run.routes, idle.routes),
        "appends": {
            name: count
            for name, count in net(run.appends, idle.appends).items()
            if count
        },
        # Not less the idle share: a learning coordinator spends its idle
        # seconds on training rounds the tasks themselves cause.
        "cpu_ms": {name: round(ms / tasks, 2) for name, ms in run.cpu_ms.items()},
    }


WRITE_PROBE_STREAM = "BENCH_WRITES"
WRITE_WINDOW = 256
"""Publishes in flight at once while probing the write rate."""


async def jetstream_write_rate(
    js, replicas: int, count: int, size: int
) -> dict[str, float]:
    """Appends per second into one fresh stream, `WRITE_WINDOW` acks in flight.

    The stream has the system's replica count and file storage, like
    `KV_tasks` or `OBJ_files`; it is deleted afterwards.
    """
    await js.add_stream(
        StreamConfig(
            name=WRITE_PROBE_STREAM,
            subjects=["bench.writes"],
            storage=StorageType.FILE,
            num_replicas=replicas,
        )
    )
    payload = bytes(size)
    pending: list[asyncio.Future] = []
    try:
        began = time.monotonic()
        for _ in range(count):
            if len(pending) >= WRITE_WINDOW:
                await asyncio.wait_for(pending.pop(0), 30)
            pending.append(await js.publish_async("bench.writes", payload))
        await asyncio.wait_for(asyncio.gather(*pending), 60)
        elapsed_s = time.monotonic() - began
    finally:
        await js.delete_stream(WRITE_PROBE_STREAM)
    return {
        "message_bytes": size,
        "appends_per_s": round(count / elapsed_s),
        "mb_per_s": round(count * size / elapsed_s / 1e6, 1),
    }


class Finishes:
    """Task ids whose node reported `completed` or `failed`, off the bus."""

    def __init__(self) -> None:
        self.done: set[str] = set()
        self.node_of: dict[str, str] = {}

    async def attach(self, nc) -> None:
        """Subscribe on `nc` (a plain subscription: no JetStream cost)."""

        async def seen(message) -> None:
            event = TaskEvent.decode(message.data)
            self.done.add(event.task_id)
            self.node_of[event.task_id] = event.node_id

        for kind in ("completed", "failed"):
            await nc.subscribe(subjects.task_event(kind), cb=seen)


async def paced_upload(session, base_url, png, total: int, rate: float) -> set[str]:
    """Upload-and-schedule `total` tasks at `rate` per second, 10 per request."""
    interval_s = FILES_PER_REQUEST / rate
    began = time.monotonic()
    pending = []
    for index in range(total // FILES_PER_REQUEST):
        await asyncio.sleep(max(began + index * interval_s - time.monotonic(), 0))
        pending.append(
            asyncio.create_task(
                upload(session, base_url, png, FILES_PER_REQUEST, schedule=True)
            )
        )
    return {task_id for batch in await asyncio.gather(*pending) for task_id in batch}


async def measure(
    servers: int, tasks: int, rate: float, idle_s: float, policy: str
) -> dict:
    """Run the system, measure idle, a paced run, then raw write rates."""
    replicas = 3 if servers > 1 else 1
    workdir = Path(tempfile.mkdtemp(prefix="offload-bus-cost-"))
    (workdir / "scratch").mkdir()
    cluster = start_cluster(workdir / "nats", size=servers)
    system = RunningSystem(
        server=cluster.hubs[0].server, workdir=workdir, web_port=free_port()
    )
    env = {"NATS_URL": cluster.hub_urls, "NATS_REPLICAS": str(replicas)}
    try:
        await wait_for_cluster(cluster)
        system.start("coordinator", "coordinator", POLICY=policy, **env)
        system.start("web", "web", **env)
        system.start("edge", "edge_node", NODE_ID="edge-1", **env)
        system.start("cloud", "cloud_node", NODE_ID="cloud-1", **env)
        settings = BusSettings(nats_url=cluster.hub_urls, replicas=replicas)
        nc = await connect(settings, BENCH_CONNECTION)
        js = jetstream(nc)
        finishes = Finishes()
        await finishes.attach(nc)
        pids = {name: process.pid for name, process in system.processes.items()}
        for hub in cluster.hubs:
            pids[f"nats-server {hub.name}"] = hub.server.process.pid
        png = tiny_png()

        async with aiohttp.ClientSession() as session:
            base_url = system.web_url
            await wait_until(lambda: web_ready(session, base_url), 60, "web")

            async def two_nodes() -> bool:
                async with session.get(f"{base_url}/api/v1/nodes") as reply:
                    return len((await reply.json())["nodes"]) == 2

            await wait_until(two_nodes, 60, "both nodes")

            async def policy_ready() -> bool:
                return f"policy {policy} ready" in system.log("coordinator")

            # Until then the coordinator places with the greedy rule.
            await wait_until(policy_ready, 180, f"the {policy} policy", 0.5)
            warm = set(await upload(session, base_url, png, 20, True))
            await wait_until(
                lambda: asyncio.sleep(0, warm <= finishes.done), 60, "warm-up"
            )
            await asyncio.sleep(1.0)  # the warm-up's records settle

            quiet_start = await snapshot(cluster, system, js, pids)
            await asyncio.sleep(idle_s)
            idle = (await snapshot(cluster, system, js, pids)).minus(quiet_start)

            before = await snapshot(cluster, system, js, pids)
            ids = await paced_upload(session, base_url, png, tasks, rate)
            await wait_until(
                lambda: asyncio.sleep(0, ids <= finishes.done), 300, "the tasks"
            )
            finished_s = time.monotonic() - before.at
            await asyncio.sleep(1.0)  # the coordinator records the last ones
            run = (await snapshot(cluster, system, js, pids)).minus(before)

        # With the services idle: how fast can one stream take small records
        # (a task record is about 1 KB) and object-store chunks (128 KiB)?
        write_rates = [
            await jetstream_write_rate(js, replicas, 20_000, 1024),
            await jetstream_write_rate(js, replicas, 400, 128 * 1024),
        ]
        await close(nc)
    finally:
        for name in list(system.processes):
            system.stop(name)
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    cost = per_task(run, idle, len(ids))
    # A node's costs are spread over all tasks above; per task it ran itself
    # they are what one more node of its kind would add.
    ran = {
        process: sum(finishes.node_of.get(task) == node for task in ids)
        for process, node in (("edge", "edge-1"), ("cloud", "cloud-1"))
    }
    own_cpu_ms = {
        process: round(cost["cpu_ms"][process] * len(ids) / count, 2)
        for process, count in ran.items()
        if count
    }
    capacity = {
        name: round(1000 / ms) if ms > 0 else None
        for name, ms in {**cost["cpu_ms"], **own_cpu_ms}.items()
    }
    return {
        "servers": servers,
        "replicas": replicas,
        "policy": policy,
        "tasks": len(ids),
        "offered_per_s": rate,
        "completed_per_s": round(len(ids) / finished_s, 1),
        "input_bytes": len(png),
        "idle_s": round(idle.at, 1),
        "idle_per_s": {
            "server_in_msgs": round(idle.servers["in_msgs"] / idle.at, 1),
            "server_out_msgs": round(idle.servers["out_msgs"] / idle.at, 1),
            "cpu_ms": {
                name: round(ms / idle.at, 1) for name, ms in idle.cpu_ms.items()
            },
        },
        "per_task": cost,
        "tasks_ran": ran,
        "node_cpu_ms_per_own_task": own_cpu_ms,
        "tasks_per_core_s": capacity,
        "jetstream_write_rate": write_rates,
    }


def print_report(result: dict) -> None:
    """A readable summary; the JSON follows it."""
    cost = result["per_task"]
    print(
        f"{result['tasks']} tasks on {result['servers']} server(s), "
        f"{result['replicas']} replica(s), policy {result['policy']}: "
        f"offered {result['offered_per_s']}/s, "
        f"completed {result['completed_per_s']}/s; input {result['input_bytes']} B"
    )
    servers = cost["servers"]
    print(
        "  per task, servers: "
        f"in {servers['in_msgs']} msgs / {servers['in_bytes']:.0f} B, "
        f"out {servers['out_msgs']} msgs / {servers['out_bytes']:.0f} B"
    )
    if result["servers"] > 1:
        routes = cost["routes"]
        print(
            "  per task, between servers: "
            f"{routes['out_msgs']} msgs / {routes['out_bytes']:.0f} B sent"
        )
    for name, counters in cost["connections"].items():
        print(
            f"  per task, {name}: publishes {counters['in_msgs']} "
            f"({counters['in_bytes']:.0f} B), receives {counters['out_msgs']} "
            f"({counters['out_bytes']:.0f} B)"
        )
    appends = ", ".join(f"{name} {count}" for name, count in cost["appends"].items())
    print(f"  JetStream appends per task: {appends}")
    cpu = ", ".join(f"{name} {ms}" for name, ms in cost["cpu_ms"].items())
    print(f"  CPU ms per task: {cpu}")
    own = ", ".join(
        f"{name} {ms} ({result['tasks_ran'][name]} tasks)"
        for name, ms in result["node_cpu_ms_per_own_task"].items()
    )
    print(f"  node CPU ms per task it ran: {own}")
    per_core = ", ".join(
        f"{name} {rate:.0f}"
        for name, rate in result["tasks_per_core_s"].items()
        if rate is not None
    )
    print(f"  tasks/s one core would give each: {per_core}")
    for probe in result["jetstream_write_rate"]:
        print(
            f"  one stream takes {probe['appends_per_s']} appends/s of "
            f"{probe['message_bytes']} B ({probe['mb_per_s']} MB/s)"
        )


def main() -> None:
    """Measure and print the summary and the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=1, choices=(1, 3))
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=150.0)
    parser.add_argument("--idle-s", type=float, default=5.0)
    parser.add_argument(
        "--policy", default="greedy", help="the coordinator's POLICY (greedy, dqn)"
    )
    args = parser.parse_args()
    if args.tasks < FILES_PER_REQUEST or args.tasks % FILES_PER_REQUEST:
        parser.error(f"--tasks must be a multiple of {FILES_PER_REQUEST}")
    if args.rate <= 0:
        parser.error("--rate must be positive")
    result = asyncio.run(
        measure(args.servers, args.tasks, args.rate, args.idle_s, args.policy)
    )
    print_report(result)
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
