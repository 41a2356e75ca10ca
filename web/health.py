"""Liveness, readiness and the catalog of operations."""

import asyncio
import logging

from aiohttp import web

from bus.provision import streams_ready
from media import SUPPORTED_TYPES, describe_operations
from web.keys import JS, NC

logger = logging.getLogger(__name__)

READY_TIMEOUT_S = 2.0


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: the process is alive and serving."""
    return web.json_response({"ok": True})


async def readyz(request: web.Request) -> web.Response:
    """GET /readyz: 200 only while NATS is connected and the streams exist."""
    connected = request.app[NC].is_connected
    ready = False
    reason = "not connected to NATS"
    if connected:
        reason = "the JetStream streams are not all there"
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                ready = await streams_ready(request.app[JS])
        except Exception as error:  # any failure to ask means "not ready"
            logger.warning("readiness check failed: %r", error)
            reason = "JetStream did not answer the readiness check"
    body = {"ok": ready, "nats_connected": connected, "streams_ready": ready}
    if not ready:
        body["error"] = reason
    return web.json_response(body, status=200 if ready else 503)


async def operations(request: web.Request) -> web.Response:
    """GET /api/v1/operations: every operation, its params, the supported types."""
    return web.json_response(
        {**describe_operations(), "supported_types": dict(SUPPORTED_TYPES)}
    )
