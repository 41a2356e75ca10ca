"""A nats-server that enforces the generated users and permissions."""

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bus.nats_auth import NatsUser, generate_users
from bus.nats_server import EmbeddedServer, start_server
from tests.security.certs import Certificates, make_certificates


@dataclass
class AuthServer:
    """A running server and the users it knows."""

    server: EmbeddedServer
    users: list[NatsUser]
    folder: Path


def start_auth_server(edge: list[str], cloud: list[str]) -> AuthServer:
    """A fresh server in a temp folder with users for these nodes."""
    folder = Path(tempfile.mkdtemp(prefix="offload-auth-"))
    users = generate_users(edge, cloud)
    server = start_server(
        folder / "jetstream", log_file=folder / "nats.log", users=users
    )
    return AuthServer(server, users, folder)


@pytest.fixture(scope="module")
def auth_server() -> Iterator[AuthServer]:
    """Users for the coordinator, web, admin, edge-1, edge-2 and cloud-1."""
    running = start_auth_server(["edge-1", "edge-2"], ["cloud-1"])
    yield running
    running.server.stop()
    shutil.rmtree(running.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory) -> Certificates:
    """A test CA with a server and a client certificate for 127.0.0.1."""
    return make_certificates(tmp_path_factory.mktemp("certs"))
