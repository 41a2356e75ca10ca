"""`offload status`: one task in detail, or a table of recent tasks."""

import argparse
import sys
import time
from typing import Any

from bus.schemas import FINAL_STATUSES, TASK_STATUSES, TIERS
from web.client import formatting
from web.client.api import task_path
from web.client.commands.base import Command
from web.client.commands.options import api_for, positive_int, print_json
from web.client.errors import EXIT_OK, UsageError

DEFAULT_LIMIT = 20

# Explanation keys shown under their own label, in this order; others follow.
_EXPLANATION_LABELS = {
    "policy": "policy",
    "policy_version": "policy version",
    "reason": "reason",
    "q_values": "Q-values",
    "explored": "explored",
    "planned_finish_s": "planned finish",
    "pso_planned_finish_s": "PSO planned finish",
    "estimated_work_s": "estimated work",
    "decision_ms": "decision took",
    "batch_size": "batch size",
    "replanned_from": "re-planned from",
    "replanned_at": "re-planned at",
}


def configure(parser: argparse.ArgumentParser) -> None:
    """The arguments of `offload status`."""
    parser.add_argument(
        "task_id", nargs="?", metavar="ID", help="a task id; without it, list tasks"
    )
    parser.add_argument("--status", choices=TASK_STATUSES, help="list only this status")
    parser.add_argument("--tier", choices=TIERS, help="list only tasks placed here")
    parser.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help=f"list at most N tasks, newest first (default {DEFAULT_LIMIT})",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the server's JSON instead"
    )


async def run(args: argparse.Namespace) -> int:
    """Show one task, or list tasks."""
    filters = (args.status, args.tier, args.limit)
    if args.task_id and any(value is not None for value in filters):
        raise UsageError("--status, --tier and --limit apply to the list, not to an ID")

    async with api_for(args) as api:
        if args.task_id:
            record = await api.get_json(task_path(args.task_id))
            if args.json:
                print_json(record)
            else:
                print(task_details(record))
            return EXIT_OK

        query = {
            "status": args.status,
            "tier": args.tier,
            "limit": args.limit or DEFAULT_LIMIT,
        }
        body = await api.get_json("/api/v1/tasks", query)

    if args.json:
        print_json(body)
        return EXIT_OK
    tasks = body.get("tasks", [])
    if not tasks:
        print("no tasks match", file=sys.stderr)
        return EXIT_OK
    print(task_table(tasks))
    total = body.get("total")
    if isinstance(total, int) and total > len(tasks):
        print(f"showing the newest {len(tasks)} of {total}", file=sys.stderr)
    elif body.get("next_cursor"):
        print(
            f"showing the newest {len(tasks)}; raise --limit for more", file=sys.stderr
        )
    return EXIT_OK


def task_table(tasks: list[dict[str, Any]]) -> str:
    """Recent tasks, one a row."""
    now = time.time()
    rows = [
        [
            task["id"],
            task["status"] + progress_suffix(task),
            task.get("tier") or "-",
            task.get("node_id") or "-",
            operation_text(task),
            formatting.size(task.get("size")),
            formatting.milliseconds(task.get("total_ms")),
            formatting.age(task.get("uploaded_at"), now),
            task.get("filename") or "",
        ]
        for task in tasks
    ]
    headers = ["ID", "STATUS", "TIER", "NODE", "OPERATION", "SIZE", "TOTAL", "UPLOADED"]
    return formatting.table([*headers, "FILE"], rows)


def task_details(task: dict[str, Any]) -> str:
    """Everything a person cares about in one task, a field a line."""
    lines = [f"task {task['id']}"]

    def field(label: str, value: object) -> None:
        lines.append(f"  {label:<14} {value}")

    kind = task.get("kind") or "?"
    field("file", f"{task.get('filename')} ({kind}, {task.get('content_type')})")
    field("size", f"{formatting.size(task.get('size'))} ({task.get('size')} bytes)")
    field("sha256", task.get("sha256") or "-")
    field("operation", operation_text(task))
    field("status", task["status"] + progress_suffix(task))
    field("attempts", task.get("attempts", 0))
    where = task.get("tier") or "not placed yet"
    if task.get("node_id"):
        where += f" / {task['node_id']}"
    field("placed on", where)
    if task.get("error"):
        field("error", task["error"])

    for name in ("uploaded", "scheduled", "picked", "started", "completed"):
        field(name, formatting.timestamp(task.get(f"{name}_at")))
    for label, key in (
        ("queue wait", "queue_wait_ms"),
        ("transfer", "transfer_ms"),
        ("compute", "compute_ms"),
        ("total", "total_ms"),
    ):
        field(label, formatting.milliseconds(task.get(key)))

    if task.get("output_name") or task.get("output_size") is not None:
        output_size = formatting.size(task.get("output_size"))
        field(
            "output",
            f"{task.get('output_name')} ({task.get('output_type')}, {output_size})",
        )
    lines.extend(explanation_lines(task.get("explanation")))
    return "\n".join(lines)


def explanation_lines(explanation: dict[str, Any] | None) -> list[str]:
    """Why the task went where it went: the policy's own account, indented."""
    if not explanation:
        return ["  placement      no explanation (not placed yet)"]
    lines = ["  placement"]
    known = [key for key in _EXPLANATION_LABELS if key in explanation]
    others = sorted(key for key in explanation if key not in _EXPLANATION_LABELS)
    for key in (*known, *others):
        label = _EXPLANATION_LABELS.get(key, key.replace("_", " "))
        lines.append(f"    {label:<20} {explanation_value(key, explanation[key])}")
    return lines


def explanation_value(key: str, value: Any) -> str:
    """One explanation value in words and units."""
    if value is None:
        return "-"
    if key == "q_values" and isinstance(value, dict):
        return "  ".join(f"{tier} {q:.4g}" for tier, q in value.items())
    if key == "explored" and isinstance(value, bool):
        return "yes (a random choice)" if value else "no"
    if key.endswith("_at") and isinstance(value, int | float):
        return formatting.timestamp(value)
    if key.endswith("_ms") and isinstance(value, int | float):
        return formatting.milliseconds(value)
    if key.endswith("_s") and isinstance(value, int | float):
        return formatting.seconds(value)
    return str(value)


def operation_text(task: dict[str, Any]) -> str:
    """'resize width=320' from the task's operation and its set params."""
    operation = task.get("operation") or {}
    if not isinstance(operation, dict):
        return str(operation)
    params = operation.get("params") or {}
    shown = [f"{key}={value}" for key, value in params.items() if value is not None]
    return " ".join([str(operation.get("name")), *shown])


def progress_suffix(task: dict[str, Any]) -> str:
    """' 45%' for a task under way that reports progress."""
    progress = task.get("progress")
    if progress is None or task["status"] in FINAL_STATUSES:
        return ""
    return f" {progress:.0%}"


COMMAND = Command(
    name="status",
    summary="show one task in detail, or list recent tasks",
    description="With an ID, show that task: its file, operation, status, where "
    "it ran and why the coordinator placed it there, and how long each phase "
    "took. Without one, list recent tasks, newest first.",
    configure=configure,
    run=run,
    epilog="""examples:
  offload status
  offload status --status failed --limit 50
  offload status 3f2c...e1 --json""",
)
