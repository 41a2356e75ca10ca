"""Start the coordinator: `python -m coordinator` or `make run-coordinator`."""

import asyncio

from bus.logs import configure_logging
from coordinator.service import serve
from coordinator.settings import CoordinatorSettings


def main() -> None:
    """Run the coordinator configured from the environment."""
    settings = CoordinatorSettings.from_env()
    configure_logging(settings.bus.verbose, service="coordinator")
    asyncio.run(serve(settings))
