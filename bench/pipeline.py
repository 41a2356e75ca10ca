"""`make bench-pipeline`: 64x64 grayscale tasks through the whole running system.

Starts a fresh nats-server, the coordinator, the web service, one edge and one
cloud node as separate processes, then runs two phases through the HTTP API:

- paced: tasks are uploaded-and-scheduled in small requests at a fixed rate
  (300/s by default), the way users arrive; reports the completion rate and
  end-to-end latency at that load;
- burst: the same number of tasks uploaded first, then scheduled all at once
  with POST /schedule-tasks; reports how fast the backlog drains.

Latency is per task, from the moment it was scheduled (`scheduled_at`) to
`completed_at`, both taken from the task records; its median is also split
into placement (to `picked_at`), reaching the node (to `started_at`) and the
node's work. CPU per task is counted for every process, so runs on a busy
machine can still be compared by what each process spends.
"""

import argparse
import asyncio
import io
import json
import os
import statistics
import sys
import time

import aiohttp
import nats
from PIL import Image

from tests.e2e.system import RunningSystem, start_system, wait_until, web_ready

FILES_PER_REQUEST = 10


def tiny_png(size: int = 64) -> bytes:
    """A small colourful PNG, different from a flat image so work is real."""
    image = Image.radial_gradient("L").resize((size, size)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def form(png: bytes, count: int, schedule: bool) -> aiohttp.FormData:
    """A multipart upload of `count` copies of the PNG with grayscale."""
    data = aiohttp.FormData()
    data.add_field("operation", "grayscale")
    data.add_field("schedule", "true" if schedule else "false")
    for index in range(count):
        data.add_field(
            "files", png, filename=f"tiny-{index}.png", content_type="image/png"
        )
    return data


async def upload(session, base_url, png, count, schedule) -> list[str]:
    """Upload `count` files in one request; return the new task ids."""
    async with session.post(
        f"{base_url}/api/v1/tasks", data=form(png, count, schedule)
    ) as response:
        body = await response.json()
        if response.status != 201:
            raise RuntimeError(f"upload failed: {response.status} {body}")
        return [task["id"] for task in body["tasks"]]


async def final_records(session, base_url, ids: set[str]) -> list[dict]:
    """The records of the given tasks once every one has reached an end state.

    The nodes' completion events arrive before the coordinator has written
    them into the records, so wait for the records themselves.
    """

    async def all_final() -> list[dict] | None:
        records = await fetch_records(session, base_url, ids)
        done = [r for r in records if r["status"] in ("completed", "failed")]
        return records if len(done) == len(ids) else None

    return await wait_until(all_final, 60, "final records", interval_s=0.5)


async def fetch_records(session, base_url, ids: set[str]) -> list[dict]:
    """The records of the given tasks, via the paged list API."""
    found: list[dict] = []
    cursor = None
    while True:
        query = "limit=1000" + (f"&cursor={cursor}" if cursor else "")
        async with session.get(f"{base_url}/api/v1/tasks?{query}") as response:
            page = await response.json()
        found += [task for task in page["tasks"] if task["id"] in ids]
        cursor = page.get("next_cursor")
        if not cursor:
            return found


class CompletionCounter:
    """Counts completion events of chosen tasks off the bus."""

    def __init__(self) -> None:
        self.done: set[str] = set()

    async def attach(self, nats_url: str):
        import msgpack

        async def seen(msg) -> None:
            # Record every finish: a task can finish before its upload returns.
            self.done.add(msgpack.unpackb(msg.data)["task_id"])

        nc = await nats.connect(nats_url)
        await nc.subscribe("events.task.completed", cb=seen)
        await nc.subscribe("events.task.failed", cb=seen)
        return nc


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(system: RunningSystem) -> dict[str, float]:
    """CPU seconds of every service process and the nats-server."""
    pids = {name: process.pid for name, process in system.processes.items()}
    pids["nats-server"] = system.server.process.pid
    pids["bench-client"] = os.getpid()
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def summarize(name: str, records: list[dict]) -> dict:
    """Throughput and latency figures of one phase."""
    completed = [r for r in records if r["status"] == "completed"]
    latencies = sorted(r["completed_at"] - r["scheduled_at"] for r in completed)
    span_s = max(r["completed_at"] for r in completed) - min(
        r["scheduled_at"] for r in completed
    )
    tiers = {t: sum(1 for r in completed if r["tier"] == t) for t in ("edge", "cloud")}
    # Where the time goes: scheduled -> picked (placement), picked -> started
    # (job queue and pull), started -> completed (the node's work).
    phases = {
        "place": ("scheduled_at", "picked_at"),
        "to_node": ("picked_at", "started_at"),
        "on_node": ("started_at", "completed_at"),
    }
    phase_p50_s = {}
    for phase, (begin, end) in phases.items():
        spans = [
            max(r[end] - r[begin], 0.0)
            for r in completed
            if r.get(begin) and r.get(end)
        ]
        phase_p50_s[phase] = round(statistics.median(spans), 3) if spans else None
    return {
        "phase": name,
        "tasks": len(records),
        "completed": len(completed),
        "failed": len(records) - len(completed),
        "tasks_per_s": round(len(completed) / span_s, 1),
        "p50_latency_s": round(statistics.median(latencies), 3),
        "p95_latency_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
        "max_latency_s": round(latencies[-1], 3),
        "edge": tiers["edge"],
        "cloud": tiers["cloud"],
        "phase_p50_s": phase_p50_s,
    }


async def paced_phase(session, base_url, counter, png, total, rate) -> dict:
    """Upload-and-schedule `total` tasks at `rate` per second."""
    interval_s = FILES_PER_REQUEST / rate
    ids: set[str] = set()
    began = time.monotonic()
    pending = []
    for request_index in range(total // FILES_PER_REQUEST):
        due = began + request_index * interval_s
        await asyncio.sleep(max(due - time.monotonic(), 0))
        pending.append(
            asyncio.create_task(
                upload(session, base_url, png, FILES_PER_REQUEST, schedule=True)
            )
        )
    for batch in await asyncio.gather(*pending):
        ids.update(batch)
    offered_s = time.monotonic() - began
    await wait_until(lambda: asyncio.sleep(0, ids <= counter.done), 120, "paced tasks")
    summary = summarize("paced", await final_records(session, base_url, ids))
    summary["offered_rate_per_s"] = round(total / offered_s, 1)
    return summary


async def burst_phase(session, base_url, counter, png, total) -> dict:
    """Upload `total` tasks, then schedule them all in one call."""
    began = time.monotonic()
    ids: set[str] = set()
    for _ in range(total // 100):
        ids.update(await upload(session, base_url, png, 100, schedule=False))
    upload_s = time.monotonic() - began
    async with session.post(f"{base_url}/schedule-tasks") as response:
        scheduled = (await response.json())["scheduled"]
    await wait_until(lambda: asyncio.sleep(0, ids <= counter.done), 120, "burst tasks")
    summary = summarize("burst", await final_records(session, base_url, ids))
    summary["scheduled"] = scheduled
    summary["uploads_per_s"] = round(total / upload_s, 1)
    return summary


async def run(total: int, rate: float) -> list[dict]:
    system: RunningSystem = start_system()
    try:
        # The plumbing is what is measured here: place with the greedy rule.
        system.start("coordinator", "coordinator", POLICY="greedy")
        system.start("web", "web")
        system.start("edge", "edge_node", NODE_ID="edge-bench")
        system.start("cloud", "cloud_node", NODE_ID="cloud-bench")
        counter = CompletionCounter()
        nc = await counter.attach(system.server.url)
        png = tiny_png()
        async with aiohttp.ClientSession() as session:
            await wait_until(lambda: web_ready(session, system.web_url), 60, "web")

            async def two_nodes() -> bool:
                async with session.get(f"{system.web_url}/api/v1/nodes") as reply:
                    return len((await reply.json())["nodes"]) == 2

            await wait_until(two_nodes, 60, "both nodes")
            # Warm every process's code paths before measuring.
            warm = set(await upload(session, system.web_url, png, 20, True))
            await wait_until(lambda: asyncio.sleep(0, warm <= counter.done), 60, "warm")

            results = []
            for phase in ("paced", "burst"):
                before = cpu_snapshot(system)
                if phase == "paced":
                    result = await paced_phase(
                        session, system.web_url, counter, png, total, rate
                    )
                else:
                    result = await burst_phase(
                        session, system.web_url, counter, png, total
                    )
                after = cpu_snapshot(system)
                result["cpu_ms_per_task"] = {
                    name: round((after[name] - before[name]) * 1000 / total, 2)
                    for name in after
                }
                results.append(result)
        await nc.close()
        return results
    finally:
        for name in list(system.processes):
            problems = [
                line
                for line in system.log(name).splitlines()
                if " WARNING " in line or " ERROR " in line
            ]
            for line in problems[:10]:
                print(f"[{name}] {line}", file=sys.stderr)
        system.shutdown()


def main() -> None:
    """Run both phases and print a table plus JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=300.0)
    args = parser.parse_args()
    results = asyncio.run(run(args.tasks, args.rate))
    for result in results:
        print(
            f"{result['phase']:>6}: {result['completed']}/{result['tasks']} completed,"
            f" {result['tasks_per_s']} tasks/s, p50 {result['p50_latency_s']} s,"
            f" p95 {result['p95_latency_s']} s, max {result['max_latency_s']} s"
            f" (edge {result['edge']}, cloud {result['cloud']})"
        )
        cpu = result["cpu_ms_per_task"]
        services = {name: ms for name, ms in cpu.items() if name != "bench-client"}
        print(
            "        CPU ms per task: "
            + ", ".join(f"{name} {ms}" for name, ms in cpu.items())
            + f"; services and nats-server together {sum(services.values()):.2f}"
        )
        phases = ", ".join(f"{k} {v} s" for k, v in result["phase_p50_s"].items())
        print(f"        p50 by phase: {phases}")
    json.dump(results, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
