"""Start an edge node: `python -m edge_node` or `make run-edge`."""

import asyncio

from bus.logs import configure_logging
from node.service import serve
from node.settings import NodeSettings


def main() -> None:
    """Run one edge node configured from the environment."""
    settings = NodeSettings.from_env("edge")
    configure_logging(settings.bus.verbose, service=f"edge[{settings.node_id}]")
    asyncio.run(serve(settings))
