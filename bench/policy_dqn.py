"""Benchmark of the DQN tier policy: throughput, decision time, quality.

`python -m bench.policy_dqn` trains one DQN per scenario in the simulator (or
loads them with `--load DIR`), then reports:
- training throughput in environment steps per second, after compile (the
  first scenario compiles the trainer; the others reuse it);
- decision time of `dqn.act` for a batch of 64 tasks after compile, median
  of many calls with `block_until_ready`;
- per scenario, mean and p95 latency, mean cloud cost and the combined
  objective (mean latency + cost_weight * cost) of the DQN and every baseline
  over the same seeds. Targets: DQN objective within 2 % of the best baseline
  on steady and bursty, at least 5 % below every baseline on drift and
  edge-failure.

With `--candidates N` (default 3) each scenario trains N networks from
different seeds and keeps the one with the best objective on validation
seeds, which are disjoint from the seeds of the reported evaluation: plain
model selection, so one unlucky seed does not decide the result.
Prints a table, then the figures as JSON on the last line.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

import jax
import numpy as np

from policy import checkpoint, dqn, scenarios, train
from policy.cli import format_table
from policy.dqn import DQNConfig
from policy.observation import OBS_DIM

BENCH_CONFIG = DQNConfig(steps=1_048_576, n_envs=256)
"""Training per scenario in the benchmark."""
TARGET_MARGIN = {"steady": 1.02, "bursty": 1.02, "drift": 0.95, "edge-failure": 0.95}
"""DQN objective / best baseline objective must be at most this."""


def decision_time_ms(params: list, batch: int = 64, calls: int = 500) -> float:
    """Median wall time of `dqn.act` on a padded batch, after compile."""
    obs = np.random.default_rng(0).normal(size=(batch, OBS_DIM)).astype(np.float32)
    padded, mask = dqn.pad_to_bucket(obs)
    key = jax.random.key(0)
    jax.block_until_ready(dqn.act(params, padded, mask, key, 0.0))
    times = []
    for i in range(calls):
        k = jax.random.fold_in(key, i)
        began = time.perf_counter()
        jax.block_until_ready(dqn.act(params, padded, mask, k, 0.0))
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(prog="python -m bench.policy_dqn")
    parser.add_argument("--steps", type=int, default=BENCH_CONFIG.steps)
    parser.add_argument("--load", type=Path, help="directory of checkpoints to load")
    parser.add_argument("--save", type=Path, help="directory to save checkpoints")
    parser.add_argument("--eval-envs", type=int, default=64)
    parser.add_argument("--eval-steps", type=int, default=2048)
    parser.add_argument("--candidates", type=int, default=3)
    args = parser.parse_args(argv)
    config = DQNConfig(**{**BENCH_CONFIG.__dict__, "steps": args.steps})

    policies, train_runs = {}, {}
    validation_key = jax.random.key(7)
    for i, (name, scenario) in enumerate(scenarios.SCENARIOS.items()):
        if args.load:
            state, _, _ = checkpoint.load(args.load / f"{name}.msgpack")
            policies[name] = state.params
            continue
        best: tuple[float, object] | None = None
        for candidate in range(max(args.candidates, 1)):
            key = jax.random.key(config.seed + i + 1000 * candidate)
            began = time.perf_counter()
            trained, _ = train.train(config, scenario, key)
            jax.block_until_ready(trained)
            elapsed_s = time.perf_counter() - began
            steps = (config.steps // config.n_envs) * config.n_envs
            train_runs[f"{name}#{candidate}"] = {
                "steps": steps,
                "seconds": elapsed_s,
                "steps_per_s": steps / elapsed_s,
                "includes_compile": i == 0 and candidate == 0,
            }
            outcomes = train.rollout(
                "dqn", trained.params, scenario.params(), validation_key, 32, 2048
            )
            score = train.summarize(outcomes)["objective_s"]
            print(
                f"trained {name} candidate {candidate}: {steps} steps in "
                f"{elapsed_s:.1f} s, validation objective {score:.4f}",
                flush=True,
            )
            if best is None or score < best[0]:
                best = (score, trained)
        assert best is not None
        state = best[1]
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            path = args.save / f"{name}.msgpack"
            checkpoint.save(path, state, config, {"scenario": name})
        policies[name] = state.params

    after_compile = [
        r["steps_per_s"] for r in train_runs.values() if not r["includes_compile"]
    ]
    steps_per_s = statistics.median(after_compile) if after_compile else None
    decision_ms = decision_time_ms(policies["steady"])

    results, verdicts = {}, {}
    eval_key = jax.random.key(2024)
    for name, scenario in scenarios.SCENARIOS.items():
        table = train.evaluate(
            scenario, policies[name], eval_key, args.eval_envs, args.eval_steps
        )
        results[name] = table
        best_name = min(
            (k for k in table if k != "dqn"), key=lambda k: table[k]["objective_s"]
        )
        ratio = table["dqn"]["objective_s"] / table[best_name]["objective_s"]
        verdicts[name] = {
            "best_baseline": best_name,
            "dqn_over_best": ratio,
            "target": TARGET_MARGIN[name],
            "met": ratio <= TARGET_MARGIN[name],
        }
        print(format_table(name, table))
        print(
            f"  dqn / best baseline ({best_name}) = {ratio:.3f} "
            f"(target <= {TARGET_MARGIN[name]:.2f}: "
            f"{'met' if ratio <= TARGET_MARGIN[name] else 'MISSED'})"
        )

    if steps_per_s is not None:
        print(
            f"training: {steps_per_s:,.0f} env steps/s after compile (target 100,000)"
        )
    print(f"decision: {decision_ms:.3f} ms per batch of 64 (target <= 1 ms)")
    figures = {
        "config": config.__dict__,
        "training": train_runs,
        "train_steps_per_s": steps_per_s,
        "decision_ms_batch64": decision_ms,
        "scenarios": results,
        "targets": verdicts,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
