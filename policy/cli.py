"""The policy CLI: train a DQN in the simulator, or evaluate a checkpoint.

`python -m policy train --scenario steady --steps 2000000 --out dqn.msgpack`
`python -m policy eval --checkpoint dqn.msgpack --scenario drift`

The training options are built from the fields of `DQNConfig`, with their
docstrings as help.
"""

import argparse
import ast
import dataclasses
import inspect
import itertools
import json
import time

import jax

from policy import checkpoint, scenarios, train
from policy.dqn import DQNConfig


def _field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass, read from its source."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body
    docs = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
        ):
            docs[node.target.id] = str(after.value.value)
    return docs


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    docs = _field_docs(DQNConfig)
    for field in dataclasses.fields(DQNConfig):
        parser.add_argument(
            f"--{field.name.replace('_', '-')}",
            type=type(field.default),
            default=field.default,
            help=f"{docs.get(field.name, '')} (default: {field.default})",
        )


def _add_eval_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--eval-envs", type=int, default=64, help="seeds evaluated")
    parser.add_argument(
        "--eval-steps", type=int, default=2048, help="tasks per evaluated seed"
    )
    parser.add_argument("--eval-seed", type=int, default=1000, help="evaluation seed")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m policy`."""
    parser = argparse.ArgumentParser(prog="python -m policy", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train_cmd = commands.add_parser("train", help="train a DQN in the simulator")
    train_cmd.add_argument("--scenario", default="steady", choices=scenarios.SCENARIOS)
    train_cmd.add_argument("--out", required=True, help="checkpoint file to write")
    _add_config_options(train_cmd)
    _add_eval_options(train_cmd)

    eval_cmd = commands.add_parser("eval", help="evaluate a checkpoint vs baselines")
    eval_cmd.add_argument("--checkpoint", required=True, help="checkpoint file")
    eval_cmd.add_argument(
        "--scenario",
        default=None,
        choices=[*scenarios.SCENARIOS, "all"],
        help="scenario to evaluate (default: the one it was trained on)",
    )
    _add_eval_options(eval_cmd)
    return parser


def format_table(name: str, table: dict[str, dict[str, float]]) -> str:
    """One scenario's results as aligned text, one row per policy."""
    lines = [
        f"{name}: {'policy':<12} {'mean_s':>8} {'p95_s':>8} {'cost':>7} "
        f"{'objective_s':>11} {'cloud':>6}"
    ]
    pad = " " * (len(name) + 2)
    for policy, row in table.items():
        lines.append(
            f"{pad}{policy:<12} {row['mean_latency_s']:8.3f} "
            f"{row['p95_latency_s']:8.3f} {row['mean_cost']:7.3f} "
            f"{row['objective_s']:11.3f} {row['cloud_share']:6.2f}"
        )
    return "\n".join(lines)


def _train(args: argparse.Namespace) -> None:
    config = DQNConfig(
        **{f.name: getattr(args, f.name) for f in dataclasses.fields(DQNConfig)}
    )
    scenario = scenarios.get(args.scenario)
    key = jax.random.key(config.seed)
    began = time.perf_counter()
    state, metrics = train.train(config, scenario, key)
    jax.block_until_ready(state)
    elapsed_s = time.perf_counter() - began
    steps = (config.steps // config.n_envs) * config.n_envs
    print(
        f"trained {steps} steps on {scenario.name} in {elapsed_s:.1f} s "
        f"({steps / elapsed_s:,.0f} steps/s including compile); "
        f"final loss {float(metrics.loss[-1]):.4f}"
    )
    checkpoint.save(args.out, state, config, {"scenario": scenario.name})
    print(f"saved {args.out}")
    table = train.evaluate(
        scenario,
        state.params,
        jax.random.key(args.eval_seed),
        args.eval_envs,
        args.eval_steps,
    )
    print(format_table(scenario.name, table))


def _eval(args: argparse.Namespace) -> None:
    state, _, meta = checkpoint.load(args.checkpoint)
    name = args.scenario or meta.get("scenario", "steady")
    names = list(scenarios.SCENARIOS) if name == "all" else [name]
    results = {}
    for scenario_name in names:
        table = train.evaluate(
            scenarios.get(scenario_name),
            state.params,
            jax.random.key(args.eval_seed),
            args.eval_envs,
            args.eval_steps,
        )
        results[scenario_name] = table
        print(format_table(scenario_name, table))
    print(json.dumps(results))


def main(argv: list[str] | None = None) -> None:
    """Run the CLI."""
    args = build_parser().parse_args(argv)
    if args.command == "train":
        _train(args)
    else:
        _eval(args)
