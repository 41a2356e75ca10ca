"""Provisioning is idempotent and safe when services start together."""

import asyncio
import shutil
import tempfile
from pathlib import Path

from bus.connection import close, connect, jetstream
from bus.nats_server import start_server
from bus.provision import provision, streams_ready
from bus.settings import BusSettings


async def test_three_services_provisioning_at_once_all_succeed():
    store = Path(tempfile.mkdtemp(prefix="offload-provision-"))
    server = start_server(store / "js")
    try:
        settings = BusSettings(nats_url=server.url)
        clients = [await connect(settings, f"svc{i}") for i in range(3)]
        streams = [jetstream(client) for client in clients]

        await asyncio.gather(*(provision(js, settings) for js in streams))
        await provision(streams[0], settings)

        assert await streams_ready(streams[1])
        for client in clients:
            await close(client)
    finally:
        server.stop()
        shutil.rmtree(store, ignore_errors=True)
