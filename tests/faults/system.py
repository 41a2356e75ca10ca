"""A whole system of real processes that the fault tests break on purpose.

Built on `tests/e2e/system.py`: a nats-server of its own, the services as
child processes, uploads through the web service's HTTP API (so "accepted"
means what it means to a client: a 201), and a ledger that counts how every
accepted task ended. It can also restart nats-server on the same port and
store, and read each service's peak memory.
"""

import asyncio
import io
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
from nats.js import JetStreamContext
from PIL import Image

from bus.connection import close, connect, jetstream
from bus.nats_server import start_server, wait_for_jetstream
from bus.nodes import NodeDirectory, nodes_bucket
from bus.provision import provision
from bus.settings import BusSettings
from tests.e2e.system import RunningSystem, start_system, wait_until, web_ready
from tests.faults.ledger import Ledger

logger = logging.getLogger(__name__)

NODE_TTL_S = 3.0
UPLOAD_TIMEOUT_S = 120.0
"""Long enough that the server always answers first: a request the client gave
up on might still have been accepted, and the ledger would not know it."""

File = tuple[str, bytes, str]


def small_png(side: int = 32, shade: int = 0) -> bytes:
    """A tiny photo-like PNG: cheap to upload, store and process."""
    buffer = io.BytesIO()
    image = Image.radial_gradient("L").resize((side, side)).point(lambda v: v ^ shade)
    image.convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


class Refused(Exception):
    """The web service did not accept an upload (any answer but 201)."""

    def __init__(self, status: int, body: dict) -> None:
        super().__init__(f"upload refused with {status}: {body}")
        self.status = status
        self.body = body


@dataclass
class FaultSystem:
    """The processes, a client connection of our own, and the ledger."""

    system: RunningSystem
    js: JetStreamContext
    http: aiohttp.ClientSession
    ledger: Ledger
    directory: NodeDirectory
    env: dict[str, str] = field(default_factory=dict)
    """Added to every service's environment."""
    refusals: list[Refused] = field(default_factory=list)

    def start(self, name: str, module: str, **env: str) -> None:
        """Start one service process (with the system's environment and `env`)."""
        self.system.start(name, module, **{**self.env, **env})

    async def start_web(self) -> None:
        """Start the web service and wait until it is ready."""
        self.start("web", "web")
        await wait_until(
            lambda: web_ready(self.http, self.system.web_url), 60, "the web service"
        )

    async def wait_for_nodes(self, *node_ids: str, timeout_s: float = 60) -> None:
        """Until exactly these nodes are live."""

        def live() -> bool:
            return {node.node_id for node in self.directory.live()} == set(node_ids)

        await wait_until(
            lambda: asyncio.sleep(0, live()), timeout_s, f"nodes {sorted(node_ids)}"
        )

    async def upload(
        self, files: Sequence[File], operation: str, **params: str
    ) -> list[str]:
        """POST files as one scheduled upload; the accepted ids, or Refused."""
        form = aiohttp.FormData(default_to_multipart=True)
        form.add_field("operation", operation)
        form.add_field("schedule", "true")
        for name, value in params.items():
            form.add_field(name, value)
        for filename, content, content_type in files:
            form.add_field(
                "files", content, filename=filename, content_type=content_type
            )
        url = f"{self.system.web_url}/api/v1/tasks"
        timeout = aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT_S)
        async with self.http.post(url, data=form, timeout=timeout) as reply:
            body = await reply.json(content_type=None)
            if reply.status != 201:
                raise Refused(reply.status, body)
        task_ids = [task["id"] for task in body["tasks"]]
        self.ledger.accept(task_ids)
        return task_ids

    async def upload_until_accepted(
        self, files: Sequence[File], operation: str, **params: str
    ) -> list[str]:
        """Upload, trying again while the service answers 5xx or cannot be reached.

        A refused upload was not accepted, so it is not counted; every
        refusal is kept for the test to check its body.
        """
        while True:
            try:
                return await self.upload(files, operation, **params)
            except Refused as refusal:
                if refusal.status < 500:
                    raise
                self.refusals.append(refusal)
            except (aiohttp.ClientConnectionError, TimeoutError) as error:
                logger.info("upload not answered (%s); trying again", error)
            await asyncio.sleep(0.5)

    def restart_nats(self, down_s: float = 1.0, kill: bool = True) -> float:
        """Stop nats-server (kill -9 by default) and start it again on the same
        port and store; return how long it was away."""
        old = self.system.server
        began = time.monotonic()
        if kill:
            old.kill()
        else:
            old.stop()
        time.sleep(down_s)
        self.system.server = start_server(
            old.store_dir, port=old.port, log_file=self.system.workdir / "nats.log"
        )
        return time.monotonic() - began

    def peak_memory_mb(self) -> dict[str, float]:
        """Each running process's peak resident memory (VmHWM), in MB."""
        pids = {name: p.pid for name, p in self.system.processes.items()}
        pids["nats-server"] = self.system.server.process.pid
        peaks = {}
        for name, pid in pids.items():
            status = open(f"/proc/{pid}/status").read()
            kilobytes = next(
                int(line.split()[1])
                for line in status.splitlines()
                if line.startswith("VmHWM:")
            )
            peaks[name] = round(kilobytes / 1024, 1)
        return peaks

    def coordinator_logs(self) -> list[str]:
        """Everything every coordinator process has logged."""
        names = [p.name for p in (self.system.workdir).glob("coord*.log")]
        return [self.system.log(name.removesuffix(".log")) for name in names]


@asynccontextmanager
async def fault_system(**env: str) -> AsyncIterator[FaultSystem]:
    """A fresh nats-server, our connection to it, and the ledger; services are
    started by the test. `env` is added to every service's environment."""
    system = start_system()
    settings = BusSettings(nats_url=system.server.url, node_ttl_s=NODE_TTL_S)
    nc = None
    try:
        await wait_for_jetstream(settings.nats_url)
        nc = await connect(settings, "fault-test")
        js = jetstream(nc)
        await provision(js, settings)
        directory = NodeDirectory(await nodes_bucket(js), NODE_TTL_S)
        await directory.start()
        ledger = Ledger(js)
        await ledger.start()
        async with aiohttp.ClientSession(
            headers={"Accept": "application/json"}
        ) as http:
            faults = FaultSystem(system, js, http, ledger, directory, dict(env))
            try:
                yield faults
            finally:
                await ledger.stop()
                await directory.close()
    finally:
        if nc is not None:
            await close(nc)
        system.shutdown()
