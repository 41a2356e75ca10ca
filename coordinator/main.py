"""Start the coordinator: `python -m coordinator` or `make run-coordinator`."""

import asyncio

from bus.logs import configure_logging
from coordinator.service import serve
from coordinator.settings import CoordinatorSettings
from coordinator.xla_memory import fewer_malloc_arenas, prefer_small_memory


def main() -> None:
    """Run the coordinator configured from the environment."""
    prefer_small_memory()
    fewer_malloc_arenas()
    settings = CoordinatorSettings.from_env()
    configure_logging(settings.bus.verbose, service="coordinator")
    asyncio.run(serve(settings))
