"""`offload nodes`: the live edge and cloud nodes, from their heartbeats."""

import argparse
import sys
from typing import Any

from web.client import formatting
from web.client.commands.base import Command
from web.client.commands.options import api_for, print_json
from web.client.errors import EXIT_OK


def configure(parser: argparse.ArgumentParser) -> None:
    """The arguments of `offload nodes`."""
    parser.add_argument(
        "--json", action="store_true", help="print the server's JSON instead"
    )


async def run(args: argparse.Namespace) -> int:
    """Print the live nodes, edge first."""
    async with api_for(args) as api:
        body = await api.get_json("/api/v1/nodes")
    if args.json:
        print_json(body)
        return EXIT_OK
    nodes = sorted(body.get("nodes", []), key=lambda n: (n["tier"], n["node_id"]))
    if not nodes:
        print("no live nodes", file=sys.stderr)
        return EXIT_OK
    print(node_table(nodes))
    return EXIT_OK


def node_table(nodes: list[dict[str, Any]]) -> str:
    """One row per node: tier, id, speed, backlog, load and heartbeat age."""
    rows = [
        [
            node["tier"],
            node["node_id"],
            f"{node.get('speed', 0):.3g}",
            formatting.seconds(node.get("backlog_s")),
            f"{node.get('running', 0)}/{node.get('queued', 0)}",
            str(node.get("capacity", "-")),
            f"{node.get('completed', 0)}/{node.get('failed', 0)}",
            heartbeat_age(node),
        ]
        for node in nodes
    ]
    headers = [
        "TIER",
        "NODE",
        "SPEED",
        "BACKLOG",
        "RUN/QUEUED",
        "CAPACITY",
        "DONE/FAILED",
        "HEARTBEAT",
    ]
    return formatting.table(headers, rows)


def heartbeat_age(node: dict[str, Any]) -> str:
    """How old the node's last heartbeat is, as the server measured it."""
    # The contract names it age_s; older servers sent heartbeat_age_s.
    age_s = node.get("age_s", node.get("heartbeat_age_s"))
    return "-" if age_s is None else f"{formatting.seconds(age_s)} ago"


COMMAND = Command(
    name="nodes",
    summary="list the live edge and cloud nodes",
    description="List every node whose heartbeat is recent: its tier and id, "
    "its speed (relative compute rate), its backlog (estimated seconds of "
    "queued work), jobs running and queued, capacity, jobs done and failed, "
    "and how old its last heartbeat is.",
    configure=configure,
    run=run,
    epilog="""examples:
  offload nodes
  offload nodes --json""",
)
