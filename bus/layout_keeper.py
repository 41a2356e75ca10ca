"""Putting the JetStream layout back after the connection to NATS comes back.

The `nodes` and `leader` buckets live in memory: a nats-server that restarts
comes back without them (file streams, their messages and their durable
consumers survive), and a replaced server has nothing at all. Until they
exist again, heartbeats and leadership writes fail. So every service runs
`provision` again after each reconnect; it is idempotent and safe when all
services do it at once.
"""

import asyncio
import logging

from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.provision import provision
from bus.settings import BusSettings

logger = logging.getLogger(__name__)

CHECK_INTERVAL_S = 0.5


class LayoutKeeper:
    """Re-provisions the layout after every reconnect, in the background."""

    def __init__(self, nc: Client, js: JetStreamContext, settings: BusSettings):
        self._nc = nc
        self._js = js
        self._settings = settings
        self._task: asyncio.Task[None] | None = None
        self.restored = 0
        """How many times the layout was provisioned again."""

    def start(self) -> None:
        """Start watching for reconnects."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="layout-keeper")

    async def close(self) -> None:
        """Stop watching."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        seen = self._nc.stats["reconnects"]
        while not self._nc.is_closed:
            await asyncio.sleep(CHECK_INTERVAL_S)
            now = self._nc.stats["reconnects"]
            if now == seen or not self._nc.is_connected:
                continue
            try:
                await provision(self._js, self._settings)
            except Exception as error:  # JetStream may still be recovering
                logger.info("layout not restored yet (%s); trying again", error)
                continue
            seen = now
            self.restored += 1
            logger.info("JetStream layout checked again after reconnecting")
