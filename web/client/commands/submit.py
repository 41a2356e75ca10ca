"""`offload submit`: upload files as tasks, schedule them, optionally wait."""

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from web.client import formatting
from web.client.api import ApiClient
from web.client.commands.base import Command
from web.client.commands.options import api_for, key_value, positive_float
from web.client.errors import EXIT_FAILED, EXIT_OK, ApiFailure, UsageError
from web.client.follow import TaskFollower, WaitOutcome, is_final
from web.client.progress import TransferProgress, WaitDisplay

logger = logging.getLogger(__name__)

FILE_FAULT_FIELD = "files"
"""The error field naming a problem with one file, not with the whole request."""


def configure(parser: argparse.ArgumentParser) -> None:
    """The arguments of `offload submit`."""
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="photos or videos"
    )
    parser.add_argument(
        "--op",
        "--operation",
        dest="operation",
        required=True,
        metavar="NAME",
        help="the operation for every file: grayscale, resize, blur, transcode, "
        "... (GET /api/v1/operations lists them with their parameters)",
    )
    parser.add_argument(
        "-p",
        "--param",
        dest="params",
        action="append",
        type=key_value,
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the operation, e.g. width=320; repeat for more "
        "(the last value of a key wins)",
    )
    parser.add_argument(
        "--no-schedule",
        dest="schedule",
        action="store_false",
        help="only upload; schedule later from the page or the API",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="follow the tasks until each is final and print a summary per task",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        metavar="S",
        help="with --wait: give up after S seconds (exit 1); default: no limit",
    )


async def run(args: argparse.Namespace) -> int:
    """Upload each file, print the task ids, and with --wait the outcomes."""
    check_usage(args)
    params = dict(args.params)

    async with api_for(args) as api:
        records: dict[str, dict[str, Any]] = {}
        upload_failures = 0
        for path in args.files:
            try:
                tasks = await upload_one(api, path, args.operation, params, args)
            except ApiFailure as error:
                if not is_file_fault(error):
                    raise
                # Only this file is at fault: say so and carry on with the rest.
                print(f"offload: error: {path}: {error}", file=sys.stderr)
                upload_failures += 1
                continue
            for task in tasks:
                records[task["id"]] = task
                print(task["id"], flush=True)

        if not args.wait or not records:
            return EXIT_FAILED if upload_failures else EXIT_OK

        display = WaitDisplay(records)
        try:
            outcome = await TaskFollower(api, records, display).wait(args.timeout)
        finally:
            display.close()

    print_summary(outcome)
    all_completed = all(r["status"] == "completed" for r in outcome.records.values())
    if outcome.timed_out:
        unfinished = sum(not is_final(r) for r in outcome.records.values())
        print(
            f"offload: error: gave up after {args.timeout:g} s with {unfinished} "
            "task(s) not final",
            file=sys.stderr,
        )
    return EXIT_OK if all_completed and not upload_failures else EXIT_FAILED


def check_usage(args: argparse.Namespace) -> None:
    """Refuse impossible requests before anything is sent."""
    if args.wait and not args.schedule:
        raise UsageError("--wait needs the tasks scheduled; drop --no-schedule")
    if args.timeout is not None and not args.wait:
        raise UsageError("--timeout only applies with --wait")
    problems = [problem for path in args.files if (problem := file_problem(path))]
    if problems:
        raise UsageError("; ".join(problems))


def file_problem(path: Path) -> str | None:
    """Why this path cannot be uploaded, or None."""
    if not path.exists():
        return f"{path}: no such file"
    if not path.is_file():
        return f"{path}: not a regular file"
    if not os.access(path, os.R_OK):
        return f"{path}: not readable"
    return None


def is_file_fault(error: ApiFailure) -> bool:
    """Whether the server refused one file (type, size, empty), not the request."""
    return isinstance(error.body, dict) and error.body.get("field") == FILE_FAULT_FIELD


async def upload_one(
    api: ApiClient,
    path: Path,
    operation: str,
    params: dict[str, str],
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    """Stream one file with a progress display; the new task(s)."""
    progress = TransferProgress(path.name, path.stat().st_size, "sent")
    try:
        tasks = await api.upload(
            path, operation, params, args.schedule, progress.advance
        )
    except BaseException:
        progress.abandon()
        raise
    progress.finish()
    logger.debug("uploaded %s as %s", path, [task["id"] for task in tasks])
    return tasks


def print_summary(outcome: WaitOutcome) -> None:
    """One line per task on stdout: status, tier, node, total time, any error."""
    for record in outcome.records.values():
        print(summary_line(record))


def summary_line(record: dict[str, Any]) -> str:
    """'<id>  completed  tier=edge  node=edge-1  total=0.42 s  photo.png'."""
    words = [
        record["id"],
        record["status"],
        f"tier={record.get('tier') or '-'}",
        f"node={record.get('node_id') or '-'}",
        f"total={formatting.milliseconds(total_ms(record))}",
        record.get("filename") or "",
    ]
    line = "  ".join(words)
    if record.get("error") and record["status"] != "completed":
        line += f"  error: {record['error']}"
    return line


def total_ms(record: dict[str, Any]) -> float | None:
    """The server's total time, else scheduled-to-completed when both are known."""
    if record.get("total_ms") is not None:
        return record["total_ms"]
    began, ended = record.get("scheduled_at"), record.get("completed_at")
    if began is None or ended is None:
        return None
    return (ended - began) * 1000


COMMAND = Command(
    name="submit",
    summary="upload files as tasks and schedule them",
    description="Upload each FILE as a task for the operation --op, streaming it "
    "with a progress bar on stderr, and schedule it (unless --no-schedule). The "
    "new task ids are printed on stdout, one a line. With --wait, follow the "
    "tasks until each is final and print one summary line per task; the exit "
    "status is 1 when any task failed or any file was refused.",
    configure=configure,
    run=run,
    epilog="""examples:
  offload submit photo.png --op grayscale --wait
  offload submit a.jpg b.jpg --op resize -p width=320 --wait --timeout 60
  offload submit clip.mp4 --op transcode -p codec=vp9 --no-schedule""",
)
