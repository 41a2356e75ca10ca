"""GET /api/v1/events: live task and node changes as server-sent events."""

import asyncio
import contextlib
import logging

from aiohttp import hdrs, web

from web.keys import EVENTS
from web.live import Subscriber

logger = logging.getLogger(__name__)

KEEPALIVE_S = 15.0
WRITE_TIMEOUT_S = 10.0
RETRY_MS = 3000


async def event_stream(request: web.Request) -> web.StreamResponse:
    """Stream every change from now on (and what Last-Event-ID missed, if kept)."""
    hub = request.app[EVENTS]
    # Following starts before the answer does: once a client sees the stream
    # open, it gets every change made after that.
    subscriber = await hub.subscribe(request.headers.get("Last-Event-ID"))
    response = web.StreamResponse(
        headers={
            hdrs.CONTENT_TYPE: "text/event-stream",
            hdrs.CACHE_CONTROL: "no-cache",
            # A buffering proxy (nginx) would hold the events back.
            "X-Accel-Buffering": "no",
        }
    )
    try:
        await response.prepare(request)
        await response.write(f"retry: {RETRY_MS}\n: connected\n\n".encode())
        logger.debug("live client connected (%d now)", hub.subscriber_count)
        await _pump(response, subscriber, hub.boot)
    except (ConnectionResetError, TimeoutError):
        # Gone, or too slow to take a write: either way it is over.
        logger.debug("live client went away")
    finally:
        hub.unsubscribe(subscriber)
    if subscriber.dropped:
        # Let the client's EventSource reconnect and reload the lists.
        response.force_close()
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


async def _pump(
    response: web.StreamResponse, subscriber: Subscriber, boot: str
) -> None:
    while True:
        try:
            async with asyncio.timeout(KEEPALIVE_S):
                await subscriber.wakeup.wait()
        except TimeoutError:
            await _write(response, b": keep-alive\n\n")
            continue
        events = subscriber.take()
        if subscriber.dropped:
            return
        payload = b"".join(event.frame(boot) for event in events)
        if payload:
            await _write(response, payload)


async def _write(response: web.StreamResponse, payload: bytes) -> None:
    async with asyncio.timeout(WRITE_TIMEOUT_S):
        await response.write(payload)
