"""The NATS connection every service opens: reconnects forever, drains on close."""

import asyncio
import logging

import nats
import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.settings import BusSettings

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 5.0


async def connect(settings: BusSettings, name: str) -> Client:
    """Connect to NATS, retrying until it answers, and reconnect forever after."""

    async def on_disconnect() -> None:
        if not (nc.is_closed or nc.is_draining):
            logger.warning("disconnected from NATS; reconnecting")

    async def on_reconnect() -> None:
        logger.info("reconnected to NATS at %s", nc.connected_url.netloc)

    async def on_error(error: Exception) -> None:
        logger.warning("NATS client error: %s", error)

    servers = [url.strip() for url in settings.nats_url.split(",") if url.strip()]
    delay_s = 0.2
    while True:
        try:
            nc = await nats.connect(
                servers=servers,
                name=name,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                connect_timeout=2,
                allow_reconnect=True,
                pending_size=64 * 1024 * 1024,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                error_cb=on_error,
            )
            break
        except (OSError, nats.errors.NoServersError, TimeoutError) as error:
            # The server may still be starting (make run starts it alongside).
            logger.warning("NATS at %s not reachable (%s); retrying", servers, error)
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 5.0)
    logger.info("connected to NATS at %s as %s", nc.connected_url.netloc, name)
    return nc


def jetstream(nc: Client) -> JetStreamContext:
    """A JetStream context with room for many async publishes in flight."""
    return nc.jetstream(timeout=10, publish_async_max_pending=4000)


async def close(nc: Client) -> None:
    """Drain subscriptions and pending publishes, then close."""
    if nc.is_closed:
        return
    try:
        await asyncio.wait_for(nc.drain(), timeout=DRAIN_TIMEOUT_S)
    except Exception as error:  # the server may already be gone
        logger.debug("drain failed (%s); closing", error)
        await nc.close()
