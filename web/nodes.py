"""Node routes: the live edge and cloud nodes, from their heartbeats."""

import time

from aiohttp import web

from web.keys import NODES
from web.live import node_view


async def list_nodes(request: web.Request) -> web.Response:
    """GET /api/v1/nodes: every live node with the age of its last heartbeat."""
    now = time.time()
    nodes = [node_view(node, now) for node in request.app[NODES].live()]
    return web.json_response({"nodes": nodes})
