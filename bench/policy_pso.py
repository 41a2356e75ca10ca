"""`python -m bench.policy_pso`: the PSO assigner against its baselines.

For each size (tasks, nodes) it draws random instances with heterogeneous
nodes (speeds uniform in 0.5-2.0, backlogs uniform in 0-2 s) and lognormal
work (median 0.15 s, 90% between about 0.06 and 0.4 s), then reports:

- the median wall time of a whole `pso.assign` call once compiled (checks,
  LPT and greedy seeds, padding, the jitted swarm, unpadding, planned finish;
  `assign` returns NumPy arrays, so the device work has finished by then);
- the mean and largest makespan / lower bound for the PSO and for the
  round-robin, random, greedy and LPT baselines;
- how many instances the PSO does worse than LPT on (it must be none).

`--transfer` adds transfer times (uniform 0-0.05 s per task and node), which
take a slower compiled path; the lower bound ignores them, so ratios are then
higher for every method. `--set name=value` overrides a `PsoConfig` field,
e.g. `--set iterations=0` for the local search of the seed alone.

It prints a table, then the figures as one JSON object on the last line. The
load average before and after is part of the JSON: timings taken while
something else is busy on the same cores are slower.
"""

import argparse
import dataclasses
import json
import os
import statistics
import time

import jax
import numpy as np

from policy import assignment, pso

SIZES = ((20, 3), (100, 8), (1000, 32))
BASELINES = ("round_robin", "random", "greedy", "lpt")


@dataclasses.dataclass(frozen=True)
class Instance:
    """One random batch."""

    work: np.ndarray
    speeds: np.ndarray
    backlogs: np.ndarray
    transfer_s: np.ndarray | None


def draw(
    rng: np.random.Generator, n_tasks: int, n_nodes: int, transfer: bool
) -> Instance:
    """A random batch as described in the module docstring."""
    return Instance(
        work=rng.lognormal(np.log(0.15), 0.6, n_tasks),
        speeds=rng.uniform(0.5, 2.0, n_nodes),
        backlogs=rng.uniform(0.0, 2.0, n_nodes),
        transfer_s=rng.uniform(0.0, 0.05, (n_tasks, n_nodes)) if transfer else None,
    )


def baseline_assignments(batch: Instance, seed: int) -> dict[str, np.ndarray]:
    """Each baseline's assignment of one batch."""
    loads = (batch.work, batch.speeds, batch.backlogs, batch.transfer_s)
    return {
        "round_robin": assignment.round_robin(batch.work, batch.speeds),
        "random": assignment.random_assignment(batch.work, batch.speeds, seed),
        "greedy": assignment.greedy_earliest_finish(*loads),
        "lpt": assignment.lpt(*loads),
    }


def measure(
    size: tuple[int, int], args: argparse.Namespace, config: pso.PsoConfig
) -> dict:
    """Timing and makespan ratios for one size."""
    n_tasks, n_nodes = size
    rng = np.random.default_rng([args.seed, n_tasks, n_nodes])
    batches = [
        draw(rng, n_tasks, n_nodes, args.transfer) for _ in range(args.instances)
    ]
    key = jax.random.key(args.seed)

    def call(batch: Instance, call_key: jax.Array) -> pso.PsoResult:
        return pso.assign(
            batch.work,
            batch.speeds,
            batch.backlogs,
            batch.transfer_s,
            call_key,
            config,
        )

    started = time.perf_counter()
    call(batches[0], key)
    compile_s = time.perf_counter() - started

    times_ms: list[float] = []
    ratios: dict[str, list[float]] = {name: [] for name in ("pso", *BASELINES)}
    worse_than_lpt = 0
    for index, batch in enumerate(batches):
        call_key = jax.random.fold_in(key, index)
        for _ in range(args.repeats):
            started = time.perf_counter()
            result = call(batch, call_key)
            times_ms.append((time.perf_counter() - started) * 1e3)
        bound = assignment.lower_bound(batch.work, batch.speeds, batch.backlogs)
        ratios["pso"].append(result.makespan / bound)
        for name, chosen in baseline_assignments(batch, index).items():
            span = assignment.makespan(
                chosen, batch.work, batch.speeds, batch.backlogs, batch.transfer_s
            )
            ratios[name].append(span / bound)
        worse_than_lpt += result.makespan > result.lpt_makespan

    return {
        "tasks": n_tasks,
        "nodes": n_nodes,
        "instances": args.instances,
        "compile_s": round(compile_s, 2),
        "median_ms": round(statistics.median(times_ms), 2),
        "p90_ms": round(float(np.percentile(times_ms, 90)), 2),
        "ratio_mean": {k: round(float(np.mean(v)), 5) for k, v in ratios.items()},
        "ratio_max": {k: round(float(np.max(v)), 5) for k, v in ratios.items()},
        "pso_worse_than_lpt": int(worse_than_lpt),
    }


def print_table(rows: list[dict]) -> None:
    """A readable summary of the measurements."""
    names = ("pso", *BASELINES)
    print("makespan / lower bound: mean (max) over the instances")
    print(
        f"{'tasks':>5} {'nodes':>5} {'median ms':>9} {'p90 ms':>7} "
        + " ".join(f"{name:>17}" for name in names)
        + f" {'worse':>5}"
    )
    for row in rows:
        cells = " ".join(
            f"{row['ratio_mean'][n]:>8.4f} ({row['ratio_max'][n]:.4f})" for n in names
        )
        print(
            f"{row['tasks']:>5} {row['nodes']:>5} {row['median_ms']:>9.2f} "
            f"{row['p90_ms']:>7.2f} {cells} {row['pso_worse_than_lpt']:>5}"
        )


def config_from(overrides: list[str]) -> pso.PsoConfig:
    """The default `PsoConfig` with `name=value` overrides applied."""
    fields = {field.name: field.type for field in dataclasses.fields(pso.PsoConfig)}
    changes = {}
    for override in overrides:
        name, _, value = override.partition("=")
        if name not in fields:
            raise SystemExit(f"--set: PsoConfig has no field {name!r}")
        changes[name] = float(value) if fields[name] in (float, "float") else int(value)
    return pso.PsoConfig(**changes)


def main() -> None:
    """Run every size and print the table, then the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--transfer", action="store_true", help="add transfer times")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    config = config_from(args.set)

    load_before = os.getloadavg()
    rows = [measure(size, args, config) for size in SIZES]
    load_after = os.getloadavg()
    print_table(rows)
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"on {os.cpu_count()} cores"
    )
    figures = {
        "benchmark": "policy_pso",
        "config": dataclasses.asdict(config),
        "transfer": args.transfer,
        "load_average": {"before": load_before, "after": load_after},
        "cpu_count": os.cpu_count(),
        "sizes": rows,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
