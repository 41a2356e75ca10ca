"""Logging in to a test nats-server as one of the generated users."""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.js import JetStreamContext

from bus.connection import credential_options
from bus.nats_auth import NatsUser, user_for
from bus.nats_server import EmbeddedServer
from bus.settings import BusSettings

REQUEST_TIMEOUT_S = 1.0
"""How long a JetStream request waits: a refused one is never answered."""
REFUSAL_WAIT_S = 2.0
"""How long the server is given to report a refusal."""


def settings_for(
    server: EmbeddedServer, users: Sequence[NatsUser], role: str, node_id=None
) -> BusSettings:
    """Bus settings that log in as the user of `role` (and node)."""
    user = user_for(users, role, node_id)
    return BusSettings(
        nats_url=server.url, user=user.name, password=user.password, node_ttl_s=3.0
    )


@dataclass
class Login:
    """A connection that keeps every error the server sent it."""

    nc: Client
    errors: list[str] = field(default_factory=list)

    @property
    def js(self) -> JetStreamContext:
        """JetStream with a short timeout: refused requests are never answered."""
        return self.nc.jetstream(timeout=REQUEST_TIMEOUT_S)

    async def refused(self, verb: str, subject: str) -> None:
        """Wait for the server's word that it refused `verb` on `subject`.

        `verb` is "publish" or "subscription", as the server words it.
        """
        expected = f'permissions violation for {verb} to "{subject}"'.lower()
        deadline = time.monotonic() + REFUSAL_WAIT_S
        while not any(expected in error for error in self.errors):
            if time.monotonic() > deadline:
                raise AssertionError(f"no refusal of {expected!r}; got {self.errors}")
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        """Close the connection."""
        await self.nc.close()


async def log_in(settings: BusSettings) -> Login:
    """Connect as the user in `settings`, recording the server's errors."""
    login = Login(nc=Client())

    async def record(error: Exception) -> None:
        login.errors.append(str(error).lower())

    await login.nc.connect(
        servers=[settings.nats_url],
        error_cb=record,
        allow_reconnect=False,
        connect_timeout=2,
        **credential_options(settings),
    )
    return login
