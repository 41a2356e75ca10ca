"""Build the aiohttp application and tie its NATS resources to its lifetime."""

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bus import connection
from bus.file_store import FileStore
from bus.nodes import NodeDirectory, nodes_bucket
from bus.provision import provision
from bus.task_store import KvTaskStore
from web.errors import error_middleware
from web.keys import FILES, JS, NC, NODES, SETTINGS, STORE
from web.routes import add_routes
from web.settings import WebSettings

logger = logging.getLogger(__name__)


async def bus_context(app: web.Application) -> AsyncIterator[None]:
    """Connect to NATS and open the stores on start-up; close them on shutdown."""
    settings = app[SETTINGS]
    nc = await connection.connect(settings.bus, "web")
    js = connection.jetstream(nc)
    await provision(js, settings.bus)

    store = await KvTaskStore.open(js)
    await store.start_view()
    directory = NodeDirectory(await nodes_bucket(js), settings.bus.node_ttl_s)
    await directory.start()

    app[NC] = nc
    app[JS] = js
    app[STORE] = store
    app[FILES] = FileStore(js)
    app[NODES] = directory
    logger.info("web service connected to the bus")

    yield

    await directory.close()
    await store.close()
    await connection.close(nc)
    logger.info("web service disconnected from the bus")


def create_app(settings: WebSettings) -> web.Application:
    """The web application, configured by `settings`."""
    # Uploads are streamed, never read whole, so the body-size cap of
    # request.post() never applies; keep it small for anything else.
    app = web.Application(middlewares=[error_middleware], client_max_size=1024**2)
    app[SETTINGS] = settings
    app.cleanup_ctx.append(bus_context)
    add_routes(app)
    return app
