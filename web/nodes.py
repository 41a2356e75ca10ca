"""Node routes: the live edge and cloud nodes, from their heartbeats."""

import time

from aiohttp import web

from web.keys import NODES


async def list_nodes(request: web.Request) -> web.Response:
    """GET /api/v1/nodes: every live node with the age of its last heartbeat."""
    now = time.time()
    nodes = [
        {**node.public(), "heartbeat_age_s": round(now - node.heartbeat_at, 3)}
        for node in request.app[NODES].live()
    ]
    return web.json_response({"nodes": nodes})
