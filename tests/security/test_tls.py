"""TLS on NATS and HTTPS on the web, each one setting away.

Certificates come from a throw-away CA made for the test (`certs.py`).
"""

import shutil
import ssl
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import nats
import pytest

from bus.connection import ServerNotTrusted, close, connect, jetstream
from bus.nats_auth import generate_users, user_for
from bus.nats_server import EmbeddedServer, ServerTls, free_port, start_server
from bus.settings import BusSettings
from bus.tls import TlsFileError, client_context
from tests.e2e.system import RunningSystem, wait_until
from tests.security.certs import Certificates


@pytest.fixture(scope="module")
def tls_server(certificates: Certificates) -> Iterator[EmbeddedServer]:
    """A nats-server that speaks TLS only, with the test CA's certificate."""
    folder = Path(tempfile.mkdtemp(prefix="offload-tls-"))
    tls = ServerTls(certificates.server_cert, certificates.server_key)
    server = start_server(folder / "jetstream", log_file=folder / "nats.log", tls=tls)
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


async def test_a_service_connects_over_tls_with_the_ca(tls_server, certificates):
    settings = BusSettings(nats_url=tls_server.url, tls_ca=certificates.ca)
    nc = await connect(settings, "tls-client")
    try:
        assert nc.connected_url is not None
        await jetstream(nc).account_info()
    finally:
        await close(nc)


@pytest.mark.parametrize("trusted", ["system CAs", "another CA"])
async def test_a_service_refuses_a_server_it_cannot_verify(
    tls_server, certificates, trusted
):
    ca = certificates.other_ca if trusted == "another CA" else None
    settings = BusSettings(nats_url=tls_server.url, tls_ca=ca)
    began = time.monotonic()
    with pytest.raises(ServerNotTrusted, match="NATS_TLS_CA"):
        await connect(settings, "tls-client")
    assert time.monotonic() - began < 5


async def test_client_certificates_with_users_on_a_verifying_server(certificates):
    folder = Path(tempfile.mkdtemp(prefix="offload-mtls-"))
    users = generate_users(["edge-1"], [])
    tls = ServerTls(certificates.server_cert, certificates.server_key, certificates.ca)
    server = start_server(folder / "js", tls=tls, users=users)
    try:
        edge = user_for(users, "edge", "edge-1")
        settings = BusSettings(
            nats_url=server.url,
            user=edge.name,
            password=edge.password,
            tls_ca=certificates.ca,
            tls_cert=certificates.client_cert,
            tls_key=certificates.client_key,
        )
        nc = await connect(settings, "mtls-client")
        assert nc.new_inbox().startswith("_INBOX.node-edge-1.")
        await close(nc)

        # Without a client certificate the server ends the handshake.
        with pytest.raises((ssl.SSLError, OSError, nats.errors.Error)):
            await nats.connect(
                server.url,
                user=edge.name,
                password=edge.password,
                tls=client_context(certificates.ca),
                allow_reconnect=False,
                connect_timeout=2,
            )
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_unreadable_certificates_are_named(tmp_path, certificates):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(TlsFileError, match=r"junk\.pem"):
        client_context(junk)
    with pytest.raises(TlsFileError, match=r"junk\.pem"):
        client_context(certificates.ca, junk, certificates.client_key)


async def test_the_web_serves_https_and_reaches_nats_over_tls(tls_server, certificates):
    workdir = Path(tempfile.mkdtemp(prefix="offload-https-"))
    system = RunningSystem(tls_server, workdir, free_port())
    base_url = f"https://127.0.0.1:{system.web_port}"
    trusting = client_context(certificates.ca)
    system.start(
        "web",
        "web",
        NATS_TLS_CA=str(certificates.ca),
        WEB_TLS_CERT=str(certificates.server_cert),
        WEB_TLS_KEY=str(certificates.server_key),
    )
    # The same web without the CA cannot trust NATS, and says what to set.
    system.web_port = free_port()
    system.start("untrusting-web", "web")
    try:
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                try:
                    async with session.get(f"{base_url}/readyz", ssl=trusting) as r:
                        return r.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await wait_until(ready, 60, "the web over HTTPS")
            async with session.get(f"{base_url}/healthz", ssl=trusting) as response:
                assert response.status == 200
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get(f"{base_url}/healthz")
        assert "web UI at https://" in system.log("web")

        untrusting = system.processes["untrusting-web"]
        assert untrusting.wait(timeout=60) != 0
        assert "set NATS_TLS_CA" in system.log("untrusting-web")
    finally:
        for name in list(system.processes):
            system.stop(name)
        shutil.rmtree(workdir, ignore_errors=True)
