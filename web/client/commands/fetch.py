"""`offload fetch`: download a task's output (or input), streaming to a file."""

import argparse
import logging
import sys
from pathlib import Path
from typing import BinaryIO

import aiohttp

from web.client.api import TRANSFER_TIMEOUT, task_path
from web.client.commands.base import Command
from web.client.commands.options import api_for
from web.client.errors import EXIT_OK, Unreachable
from web.client.local_files import (
    discard,
    move_into_place,
    open_partial,
    refuse_existing,
    safe_name,
)
from web.client.progress import TransferProgress

logger = logging.getLogger(__name__)

READ_BYTES = 256 * 1024
STDOUT = "-"


def configure(parser: argparse.ArgumentParser) -> None:
    """The arguments of `offload fetch`."""
    parser.add_argument("task_id", metavar="ID", help="the task id")
    parser.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="where to write: a file, a folder (the server's file name inside), "
        "or - for stdout; default: the server's file name in the current folder",
    )
    parser.add_argument(
        "--input",
        action="store_true",
        help="download the uploaded file instead of the result",
    )
    parser.add_argument(
        "-f", "--force", action="store_true", help="overwrite an existing file"
    )


async def run(args: argparse.Namespace) -> int:
    """Stream the chosen version of a task to a file (or stdout)."""
    version = "input" if args.input else "output"
    chosen = Path(args.output) if args.output not in (None, STDOUT) else None
    if chosen is not None and not chosen.is_dir():
        refuse_existing(chosen, args.force)

    path = task_path(args.task_id, version)
    async with (
        api_for(args) as api,
        api.request(
            "GET", path, params={"download": "1"}, client_timeout=TRANSFER_TIMEOUT
        ) as response,
    ):
        if args.output == STDOUT:
            await copy_body(response, sys.stdout.buffer, "stdout")
            sys.stdout.buffer.flush()
            return EXIT_OK

        fallback = safe_name(f"{args.task_id}-{version}", "download")
        disposition = response.content_disposition
        offered = disposition.filename if disposition is not None else None
        suggested = safe_name(offered, fallback)
        target = chosen / suggested if chosen and chosen.is_dir() else chosen
        target = target or Path(suggested)
        refuse_existing(target, args.force)

        handle, partial = open_partial(target)
        try:
            with handle:
                await copy_body(response, handle, target.name)
            move_into_place(partial, target, args.force)
        finally:
            discard(partial)

    print(target)
    return EXIT_OK


async def copy_body(
    response: aiohttp.ClientResponse, sink: BinaryIO, label: str
) -> int:
    """Copy the body chunk by chunk with progress; fail if it is cut short."""
    expected = response.content_length
    progress = TransferProgress(label, expected, "received")
    try:
        async for chunk in response.content.iter_chunked(READ_BYTES):
            # Writes to a local file are quick; one download gains nothing
            # from a thread hop per chunk.
            sink.write(chunk)
            progress.advance(len(chunk))
    except BaseException:
        progress.abandon()
        raise
    if expected is not None and progress.moved != expected:
        progress.abandon()
        raise Unreachable(
            f"the download broke off after {progress.moved} of {expected} bytes"
        )
    progress.finish()
    return progress.moved


COMMAND = Command(
    name="fetch",
    summary="download a task's result (or its input)",
    description="Download the output of a completed task, or its input with "
    "--input, streaming it to a file. The default name is the one the server "
    "gives, without any folder in it, in the current folder; an existing file "
    "is never replaced without --force. The path written is printed on stdout.",
    configure=configure,
    run=run,
    epilog="""examples:
  offload fetch 3f2c...e1
  offload fetch 3f2c...e1 -o results/
  offload fetch 3f2c...e1 --input -o original.png --force""",
)
