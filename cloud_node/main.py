"""Start a cloud node: `python -m cloud_node` or `make run-cloud`."""

import asyncio

from bus.logs import configure_logging
from node.service import serve
from node.settings import NodeSettings


def main() -> None:
    """Run one cloud worker configured from the environment."""
    settings = NodeSettings.from_env("cloud")
    configure_logging(settings.bus.verbose, service=f"cloud[{settings.node_id}]")
    asyncio.run(serve(settings))
