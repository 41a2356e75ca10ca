"""Fixtures shared by the whole suite: a real nats-server and its connections."""

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bus.connection import close, connect, jetstream
from bus.nats_server import EmbeddedServer, start_server, wait_for_jetstream
from bus.provision import provision
from bus.settings import BusSettings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MEDIA = PROJECT_ROOT.parent / "shared" / "media"
OUTPUT_DIR = PROJECT_ROOT / "test-output"


@pytest.fixture(scope="session")
def media_dir() -> Path:
    """The shared sample photos and clips."""
    assert MEDIA.is_dir(), f"sample media not found at {MEDIA}"
    return MEDIA


@pytest.fixture(scope="session")
def nats_server() -> Iterator[EmbeddedServer]:
    """One nats-server with JetStream for the session, on a free port."""
    store = Path(tempfile.mkdtemp(prefix="offload-nats-"))
    server = start_server(store / "jetstream", log_file=store / "nats.log")
    yield server
    server.stop()
    shutil.rmtree(store, ignore_errors=True)


@pytest.fixture(scope="session")
def bus_settings(nats_server: EmbeddedServer) -> BusSettings:
    """Settings pointing at the session's server, with short node expiry."""
    return BusSettings(nats_url=nats_server.url, node_ttl_s=3.0)


@pytest.fixture(scope="session")
async def nc(bus_settings: BusSettings) -> AsyncIterator:
    """A provisioned connection for test code."""
    await wait_for_jetstream(bus_settings.nats_url)
    client = await connect(bus_settings, "tests")
    await provision(jetstream(client), bus_settings)
    yield client
    await close(client)


@pytest.fixture(scope="session")
def js(nc):
    """JetStream on the test connection."""
    return jetstream(nc)
