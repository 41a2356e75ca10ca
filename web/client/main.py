"""The `offload` command: parse the command line, run one subcommand, exit."""

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

import aiohttp

from web.client.commands import COMMANDS
from web.client.errors import EXIT_FAILED, EXIT_INTERRUPTED, ClientError

logger = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:5002"

EPILOG = """exit status: 0 when everything worked, 1 when a task failed or the
server refused or could not be reached, 2 for a bad command line.

environment: OFFLOAD_URL (the server) and API_TOKEN (sent as a Bearer token).
Run `offload COMMAND --help` for the options of each command."""


class HelpFormatter(argparse.HelpFormatter):
    """Wraps one-paragraph texts; keeps texts with line breaks (examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def add_global_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """--url, --token and --verbose; on subcommands they default to unset."""

    def default(value: object) -> object:
        # Given after the subcommand they override the top-level ones, and
        # when not given there they must not reset them.
        return value if defaults else argparse.SUPPRESS

    parser.add_argument(
        "--url",
        default=default(os.environ.get("OFFLOAD_URL") or DEFAULT_URL),
        help=f"the web service (default: $OFFLOAD_URL or {DEFAULT_URL})",
    )
    parser.add_argument(
        "--token",
        default=default(os.environ.get("API_TOKEN") or None),
        help="API token sent as 'Authorization: Bearer' (default: $API_TOKEN)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="log what the client does on stderr",
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="offload",
        description="Submit photos and videos to the edge/cloud offloading "
        "service, follow their tasks, fetch the results, and see the nodes.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    add_global_options(parser, defaults=True)
    shared = argparse.ArgumentParser(add_help=False)
    add_global_options(shared, defaults=False)

    subcommands = parser.add_subparsers(
        title="commands", metavar="COMMAND", dest="command", required=True
    )
    for command in COMMANDS:
        sub = subcommands.add_parser(
            command.name,
            parents=[shared],
            help=command.summary,
            description=command.description,
            epilog=command.epilog,
            formatter_class=HelpFormatter,
        )
        command.configure(sub)
        sub.set_defaults(run=command.run)
    return parser


def configure_logging(verbose: bool) -> None:
    """Warnings only, or everything the client logs when verbose."""
    logging.basicConfig(
        level=logging.WARNING,
        format="offload %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if verbose:
        logging.getLogger("web.client").setLevel(logging.DEBUG)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `offload` with `argv` (default: the process's) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)

    try:
        return asyncio.run(args.run(args))
    except ClientError as error:
        print(f"offload: error: {error}", file=sys.stderr)
        return error.exit_code
    except aiohttp.ClientError as error:
        # What the API wrapper does not name (e.g. a reply that is not JSON).
        print(f"offload: error: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("offload: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (`offload status | head`).
        sys.stderr.close()
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
