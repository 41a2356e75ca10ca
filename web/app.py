"""Build the aiohttp application and tie its NATS resources to its lifetime."""

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bus import connection
from bus.file_store import FileStore
from bus.nodes import NodeDirectory, nodes_bucket
from bus.provision import provision
from bus.store_factory import open_task_store
from web.auth import auth_middleware, warn_if_open
from web.byte_ranges import RangeReader
from web.counters import Metrics
from web.errors import error_middleware
from web.keys import EVENTS, FILES, JS, METRICS, NC, NODES, RANGES, SETTINGS, STORE
from web.live import EventHub
from web.metrics import metrics_middleware
from web.routes import add_routes
from web.settings import WebSettings

logger = logging.getLogger(__name__)


async def bus_context(app: web.Application) -> AsyncIterator[None]:
    """Connect to NATS and open the stores on start-up; close them on shutdown."""
    settings = app[SETTINGS]
    nc = await connection.connect(settings.bus, "web")
    js = connection.jetstream(nc)
    await provision(js, settings.bus)

    store = await open_task_store(js)
    await store.start_view()
    directory = NodeDirectory(await nodes_bucket(js), settings.bus.node_ttl_s)
    await directory.start()
    hub = EventHub(store, directory)
    await hub.start()

    app[NC] = nc
    app[JS] = js
    app[STORE] = store
    app[FILES] = FileStore(js)
    app[RANGES] = RangeReader(js)
    app[NODES] = directory
    app[EVENTS] = hub
    logger.info("web service connected to the bus")

    yield

    await hub.close()
    await directory.close()
    await store.close()
    await connection.close(nc)
    logger.info("web service disconnected from the bus")


async def close_event_streams(app: web.Application) -> None:
    """End the live streams first, or shutdown would wait on them."""
    if EVENTS in app:
        app[EVENTS].close_streams()


def create_app(settings: WebSettings) -> web.Application:
    """The web application, configured by `settings`."""
    # Outermost first: count every answer, make errors JSON, then check tokens.
    middlewares = [metrics_middleware, error_middleware, auth_middleware]
    # Uploads are streamed, never read whole, so the body-size cap of
    # request.post() never applies; keep it small for anything else.
    app = web.Application(middlewares=middlewares, client_max_size=1024**2)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(bus_context)
    app.on_shutdown.append(close_event_streams)
    add_routes(app)
    warn_if_open(settings)
    return app
