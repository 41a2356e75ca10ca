"""`make bench-system`: every placement policy on the same emulated system.

For each policy a fresh system is started: an embedded nats-server, the
coordinator with that policy, the web service, three edge nodes that are near
but slow (each at a different speed) and two cloud nodes that are fast but
far (emulated round-trip time and bandwidth on every transfer). The same
seeded workload then goes through the HTTP API: photos and short clips from
`../shared/media` with a mix of operations, first arriving steadily (Poisson),
then in bursts. Printed per policy: tasks completed, mean and p95 end-to-end
latency (scheduled to completed), the share run in the cloud, the cloud
cost (CPU-seconds used on cloud nodes times the price), and the objective the
DQN is trained to minimize: mean latency plus cloud cost per task.
"""

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

from tests.e2e.system import RunningSystem, start_system, wait_until, web_ready

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
POLICIES = ("dqn", "greedy", "all-edge", "all-cloud", "random")
CLOUD_PRICE_PER_CPU_S = 1.0
"""Price of a cloud CPU-second, as in the DQN's training scenarios."""

EDGE_NODES = {"edge-fast": 0.3, "edge-mid": 0.2, "edge-slow": 0.1}
"""Edge node ids and their speed relative to this machine: small devices."""
CLOUD_NODES = ("cloud-1", "cloud-2")
CLOUD_EMULATION = {
    "COMPUTE_THREADS": "2",
    "SPEED_FACTOR": "1.0",
    "EMULATED_RTT_MS": "60",
    "EMULATED_BANDWIDTH_BPS": "10000000",
}
"""Each cloud node: two full-speed threads behind 60 ms and 10 MB/s."""
EDGE_EMULATION = {"COMPUTE_THREADS": "1", "EMULATED_RTT_MS": "2"}

WORK = [
    # (file, operation, params, weight)
    ("astronaut.png", "grayscale", {}, 3),
    ("astronaut.png", "blur", {"radius": "4"}, 2),
    ("coffee.png", "resize", {"scale": "0.5"}, 3),
    ("coffee.png", "sharpen", {}, 2),
    ("chelsea.png", "thumbnail", {}, 3),
    ("chelsea.png", "edges", {}, 2),
    ("chelsea-pan.mp4", "grayscale", {}, 1),
    ("coffee-pan.webm", "thumbnail", {}, 1),
    ("chelsea-pan.mp4", "resize", {"width": "160"}, 1),
]


@dataclass(frozen=True)
class Arrival:
    """One task of the workload: when it arrives and what it asks for."""

    at_s: float
    phase: str
    file: str
    operation: str
    params: dict


def workload(
    seed: int, steady_rate: float, steady_s: float, bursts: int, burst_size: int
) -> list[Arrival]:
    """The same arrivals for every policy: a steady phase, then bursts."""
    rng = random.Random(seed)
    weights = [item[3] for item in WORK]

    def pick(at_s: float, phase: str) -> Arrival:
        file, operation, params, _ = rng.choices(WORK, weights)[0]
        return Arrival(round(at_s, 3), phase, file, operation, params)

    arrivals = []
    at_s = 0.0
    while True:
        at_s += rng.expovariate(steady_rate)
        if at_s >= steady_s:
            break
        arrivals.append(pick(at_s, "steady"))
    burst_gap_s = 10.0
    for burst in range(bursts):
        start_s = steady_s + 2.0 + burst * burst_gap_s
        # A burst arrives within half a second, as a batch job would.
        arrivals += [
            pick(start_s + rng.uniform(0, 0.5), "bursty") for _ in range(burst_size)
        ]
    return sorted(arrivals, key=lambda a: a.at_s)


@dataclass
class PolicyResult:
    """What one policy did with the workload."""

    policy: str
    tasks: int
    completed: int
    failed: int
    mean_latency_s: float
    p95_latency_s: float
    steady_mean_s: float
    bursty_mean_s: float
    cloud_share: float
    cloud_cost: float
    objective_s: float
    """Mean latency plus the cloud cost per task: what the DQN minimizes."""
    decision_ms_p50: float
    """Time the policy took per batch (DQN plus PSO, or the baseline), median."""
    decision_ms_p95: float
    dispatch_ms_p50: float
    """Scheduled to job published (window, record reads, decision), median."""


async def submit(
    session: aiohttp.ClientSession, base_url: str, arrival: Arrival, media: dict
) -> str:
    """Upload and schedule one task; return its id."""
    form = aiohttp.FormData()
    form.add_field("operation", arrival.operation)
    form.add_field("params", json.dumps(arrival.params))
    form.add_field("schedule", "true")
    form.add_field("files", media[arrival.file], filename=arrival.file)
    async with session.post(f"{base_url}/api/v1/tasks", data=form) as response:
        body = await response.json()
        if response.status != 201:
            raise RuntimeError(f"upload of {arrival.file} failed: {body}")
        return body["tasks"][0]["id"]


async def records_of(
    session: aiohttp.ClientSession, base_url: str, ids: set[str]
) -> list[dict]:
    """The task records of `ids`, read through the paged list."""
    found, cursor = [], None
    while True:
        query = "limit=1000" + (f"&cursor={cursor}" if cursor else "")
        async with session.get(f"{base_url}/api/v1/tasks?{query}") as response:
            page = await response.json()
        found += [task for task in page["tasks"] if task["id"] in ids]
        cursor = page.get("next_cursor")
        if not cursor:
            return found


def summarize(policy: str, records: list[dict], phases: dict[str, str]) -> PolicyResult:
    """The table row of one policy."""
    done = [r for r in records if r["status"] == "completed"]
    latency = {r["id"]: r["completed_at"] - r["scheduled_at"] for r in done}
    ordered = sorted(latency.values())

    def phase_mean(phase: str) -> float:
        values = [s for task_id, s in latency.items() if phases[task_id] == phase]
        return round(statistics.fmean(values), 3) if values else float("nan")

    decision_ms = sorted(r["explanation"]["decision_ms"] for r in done)
    dispatch_ms = [(r["picked_at"] - r["scheduled_at"]) * 1000 for r in done]
    on_cloud = [r for r in done if r["tier"] == "cloud"]
    cost = sum((r["compute_ms"] or 0.0) / 1000 for r in on_cloud)
    return PolicyResult(
        policy=policy,
        tasks=len(records),
        completed=len(done),
        failed=len(records) - len(done),
        mean_latency_s=round(statistics.fmean(ordered), 3),
        p95_latency_s=round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        steady_mean_s=phase_mean("steady"),
        bursty_mean_s=phase_mean("bursty"),
        cloud_share=round(len(on_cloud) / max(len(done), 1), 3),
        cloud_cost=round(cost * CLOUD_PRICE_PER_CPU_S, 2),
        objective_s=round(
            statistics.fmean(ordered) + cost * CLOUD_PRICE_PER_CPU_S / len(done), 3
        ),
        decision_ms_p50=round(statistics.median(decision_ms), 2),
        decision_ms_p95=round(decision_ms[int(0.95 * (len(decision_ms) - 1))], 2),
        dispatch_ms_p50=round(statistics.median(dispatch_ms), 1),
    )


def start_services(system: RunningSystem, policy: str) -> None:
    system.start("coordinator", "coordinator", POLICY=policy, POLICY_SEED="1")
    system.start("web", "web")
    for node_id, speed in EDGE_NODES.items():
        system.start(
            node_id,
            "edge_node",
            NODE_ID=node_id,
            SPEED_FACTOR=str(speed),
            **EDGE_EMULATION,
        )
    for node_id in CLOUD_NODES:
        system.start(node_id, "cloud_node", NODE_ID=node_id, **CLOUD_EMULATION)


async def run_policy(
    policy: str,
    arrivals: list[Arrival],
    media: dict[str, bytes],
    records_dir: Path | None = None,
) -> PolicyResult:
    """Start a fresh system with `policy`, play the workload, read the records."""
    system = start_system()
    try:
        start_services(system, policy)
        async with aiohttp.ClientSession() as session:
            base_url = system.web_url
            await wait_until(lambda: web_ready(session, base_url), 60, "web")
            await wait_until(
                lambda: asyncio.sleep(
                    0, f"policy {policy} ready" in system.log("coordinator")
                ),
                180,
                f"policy {policy} ready",
            )

            async def all_nodes() -> bool:
                async with session.get(f"{base_url}/api/v1/nodes") as reply:
                    nodes = (await reply.json())["nodes"]
                return len(nodes) == len(EDGE_NODES) + len(CLOUD_NODES)

            await wait_until(all_nodes, 60, "every node live")

            began = time.monotonic()
            submissions = []
            for arrival in arrivals:
                await asyncio.sleep(max(began + arrival.at_s - time.monotonic(), 0))
                submissions.append(
                    asyncio.create_task(submit(session, base_url, arrival, media))
                )
            ids = await asyncio.gather(*submissions)
            phases = {
                task_id: a.phase for task_id, a in zip(ids, arrivals, strict=True)
            }

            async def finished() -> list[dict] | None:
                records = await records_of(session, base_url, set(ids))
                final = [r for r in records if r["status"] in ("completed", "failed")]
                return records if len(final) == len(ids) else None

            records = await wait_until(finished, 300, "every task final", 1.0)
        if records_dir is not None:
            records_dir.mkdir(parents=True, exist_ok=True)
            (records_dir / f"{policy}.json").write_text(json.dumps(records, indent=1))
        return summarize(policy, records, phases)
    finally:
        problems = [
            f"[{name}] {line}"
            for name in system.processes
            for line in system.log(name).splitlines()
            if " ERROR " in line
        ]
        for line in problems[:10]:
            print(line, file=sys.stderr)
        system.shutdown()


def print_table(results: list[PolicyResult]) -> None:
    header = (
        f"{'policy':<10} {'done':>9} {'mean s':>7} {'p95 s':>7} {'steady':>7}"
        f" {'bursty':>7} {'cloud':>6} {'cost':>6} {'objective':>9}"
        f" {'decide ms':>9} {'dispatch ms':>11}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.policy:<10} {r.completed:>4}/{r.tasks:<4} {r.mean_latency_s:>7.3f}"
            f" {r.p95_latency_s:>7.3f} {r.steady_mean_s:>7.3f} {r.bursty_mean_s:>7.3f}"
            f" {r.cloud_share:>6.0%} {r.cloud_cost:>6.2f} {r.objective_s:>9.3f}"
            f" {r.decision_ms_p50:>9.2f} {r.dispatch_ms_p50:>11.1f}"
        )


async def run(args: argparse.Namespace) -> list[PolicyResult]:
    arrivals = workload(
        args.seed, args.steady_rate, args.steady_s, args.bursts, args.burst_size
    )
    media = {name: (MEDIA / name).read_bytes() for name in {a.file for a in arrivals}}
    print(
        f"workload: {len(arrivals)} tasks ({args.steady_rate}/s for"
        f" {args.steady_s:g} s, then {args.bursts} bursts of {args.burst_size});"
        f" edge speeds {list(EDGE_NODES.values())}, cloud {CLOUD_EMULATION}",
        file=sys.stderr,
    )
    results = []
    for policy in args.policies:
        result = await run_policy(policy, arrivals, media, args.records)
        print(f"{policy}: {asdict(result)}", file=sys.stderr)
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", nargs="+", default=list(POLICIES))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--steady-rate", type=float, default=2.0)
    parser.add_argument("--steady-s", type=float, default=40.0)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--burst-size", type=int, default=30)
    parser.add_argument(
        "--records", type=Path, help="write each policy's task records here"
    )
    args = parser.parse_args()
    results = asyncio.run(run(args))
    print_table(results)
    json.dump([asdict(r) for r in results], sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
