"""The NATS connection every service opens: reconnects forever, drains on close.

Who the service is comes from its settings: a user and password, a token or a
`.creds` file, or nothing for an open server. Replies come back on the
user's own inbox prefix (`_INBOX.<user>`), which the generated server
permissions let only that user read. With a CA or a client certificate set,
the connection is TLS and checks the server's certificate.
"""

import asyncio
import contextlib
import importlib.util
import logging
import ssl
from typing import Any
from urllib.parse import urlsplit

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.errors import OffloadError
from bus.settings import BusSettings
from bus.tls import client_context

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 5.0
CLOSE_REFUSED_TIMEOUT_S = 1.0
RECONNECT_POLL_S = 0.05
RECONNECT_WAIT_S = 10.0
"""How long a caller waits for a lost connection before it gives up."""


def shown(servers: list[str]) -> str:
    """Server URLs for a message, without credentials written into them (a
    user and password, or a token in the user's place)."""
    hidden = []
    for url in servers:
        parts = urlsplit(url)
        if "@" in parts.netloc:
            host = parts.netloc.rsplit("@", 1)[1]
            url = parts._replace(netloc=f"***@{host}").geturl()
        hidden.append(url)
    return ", ".join(hidden)


class LoginRefused(OffloadError):
    """The server refused our credentials: retrying would not help."""

    def __init__(self, servers: list[str], reason: str) -> None:
        super().__init__(
            f"NATS at {shown(servers)} refused to let us in ({reason}); check "
            "NATS_USER/NATS_PASSWORD, NATS_TOKEN or NATS_CREDS"
        )


class ServerNotTrusted(OffloadError):
    """The server's certificate did not check out against our CA."""

    def __init__(self, servers: list[str], reason: str) -> None:
        super().__init__(
            f"the TLS certificate of NATS at {shown(servers)} is not trusted "
            f"({reason}); set NATS_TLS_CA to the CA that signed it"
        )


def credential_options(settings: BusSettings) -> dict[str, Any]:
    """The nats-py connect options that say who we are and how to reach NATS."""
    options: dict[str, Any] = {"inbox_prefix": settings.inbox}
    if settings.user is not None:
        options["user"] = settings.user
        options["password"] = settings.password
    if settings.token is not None:
        options["token"] = settings.token
    if settings.creds_file is not None:
        if importlib.util.find_spec("nkeys") is None:
            raise ValueError(
                "NATS_CREDS needs the nkeys package: pip install 'nats-py[nkeys]'"
            )
        options["user_credentials"] = str(settings.creds_file)
    if settings.uses_tls:
        options["tls"] = client_context(
            settings.tls_ca, settings.tls_cert, settings.tls_key
        )
    return options


def refuses_login(error: Exception) -> bool:
    """Whether a server error means our credentials were not accepted."""
    text = str(error).lower()
    return "authorization violation" in text or "authentication" in text


class _Callbacks:
    """A client's callbacks, which know whether it has connected yet."""

    def __init__(self, nc: Client, servers: list[str]) -> None:
        self._nc = nc
        self._servers = servers
        self.connected = False

    async def disconnected(self) -> None:
        """Log a lost connection that we did not close ourselves."""
        if not (self._nc.is_closed or self._nc.is_draining):
            logger.warning("disconnected from NATS; reconnecting")

    async def reconnected(self) -> None:
        """Log where we are connected again."""
        logger.info("reconnected to NATS at %s", self._nc.connected_url.netloc)

    async def error(self, error: Exception) -> None:
        """Log a client error; end the first connect on refused credentials."""
        # Raising here ends the client's own first-connect loop, which would
        # otherwise try the refused credentials forever. Once connected, a
        # refusal (the server's users changed) is only logged, and the
        # client keeps trying.
        if not self.connected and refuses_login(error):
            raise LoginRefused(self._servers, str(error))
        if not self.connected and isinstance(error, ssl.SSLCertVerificationError):
            raise ServerNotTrusted(self._servers, error.verify_message)
        logger.warning("NATS client error: %s", error)


async def connect(settings: BusSettings, name: str) -> Client:
    """Connect to NATS, retrying until it answers, and reconnect forever after.

    Raises LoginRefused when the server turns our credentials down on the first
    connection, and ServerNotTrusted when its certificate fails our checks:
    those are set-up mistakes, not outages, and retrying would not help.
    """
    servers = [url.strip() for url in settings.nats_url.split(",") if url.strip()]
    options = credential_options(settings)
    delay_s = 0.2
    while True:
        nc = Client()
        callbacks = _Callbacks(nc, servers)
        try:
            await nc.connect(
                servers=servers,
                name=name,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                connect_timeout=2,
                allow_reconnect=True,
                pending_size=64 * 1024 * 1024,
                disconnected_cb=callbacks.disconnected,
                reconnected_cb=callbacks.reconnected,
                error_cb=callbacks.error,
                **options,
            )
            callbacks.connected = True
            break
        except (LoginRefused, ServerNotTrusted):
            # A transport whose TLS handshake failed may never report closed.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), CLOSE_REFUSED_TIMEOUT_S)
            raise
        except (OSError, nats.errors.NoServersError, TimeoutError) as error:
            # The server may still be starting (make run starts it alongside).
            logger.warning(
                "NATS at %s not reachable (%s); retrying", shown(servers), error
            )
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, 5.0)
    who = f" (user {settings.user})" if settings.user else ""
    logger.info("connected to NATS at %s as %s%s", nc.connected_url.netloc, name, who)
    return nc


async def until_connected(nc: Client, timeout_s: float = RECONNECT_WAIT_S) -> bool:
    """Wait while the client reconnects; False if it is closed or still away.

    nats-py offers callbacks for this, not something to await, and a
    reconnect takes a second or two, so a short poll costs nothing.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not nc.is_connected:
        if nc.is_closed or loop.time() >= deadline:
            return False
        await asyncio.sleep(RECONNECT_POLL_S)
    return True


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
