"""Start the web service: `python -m web` or `make run-web`."""

import asyncio
import logging
import signal

from aiohttp import web

from bus.logs import configure_logging
from bus.tls import server_context
from web import protocol_log
from web.access_log import RedactingAccessLogger
from web.app import create_app
from web.settings import WebSettings

logger = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 10.0


async def serve(settings: WebSettings) -> None:
    """Serve until SIGINT or SIGTERM, then finish requests and disconnect.

    With WEB_TLS_CERT and WEB_TLS_KEY set it serves HTTPS only.
    """
    ssl_context = None
    if settings.tls_cert is not None and settings.tls_key is not None:
        # Loaded before anything starts, so a bad file fails at once.
        ssl_context = server_context(settings.tls_cert, settings.tls_key)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    runner = web.AppRunner(
        create_app(settings),
        shutdown_timeout=SHUTDOWN_GRACE_S,
        handle_signals=False,
        access_log_class=RedactingAccessLogger,
    )
    # Start-up waits for NATS as long as it takes; a signal must still end it.
    starting = asyncio.create_task(runner.setup())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        logger.info("stopped before start-up finished")
        return
    starting.result()

    try:
        site = web.TCPSite(
            runner, settings.host, settings.port, ssl_context=ssl_context
        )
        await site.start()
        logger.info(
            "web UI at %s://%s:%d/", settings.scheme, settings.host, settings.port
        )
        await stopping
        logger.info("shutting down")
    finally:
        stopping.cancel()
        await runner.cleanup()


def main() -> None:
    """Run the web service configured from the environment."""
    settings = WebSettings.from_env()
    configure_logging(settings.bus.verbose, service="web")
    protocol_log.install()
    asyncio.run(serve(settings))
