"""Start the real services as child processes for end-to-end tests."""

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bus.nats_server import (
    EmbeddedServer,
    child_process_options,
    free_port,
    start_server,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MONGO_SETTINGS = ("MONGO_URL", "MONGO_DB")


@dataclass
class RunningSystem:
    """A nats-server plus service processes, with their logs."""

    server: EmbeddedServer
    workdir: Path
    web_port: int
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def web_url(self) -> str:
        """Base URL of the web service."""
        return f"http://127.0.0.1:{self.web_port}"

    def start(self, name: str, module: str, **env: str) -> subprocess.Popen:
        """Start `python -m module` with the system's NATS_URL plus `env`."""
        log = open(self.workdir / f"{name}.log", "ab")
        # The harness reads and writes the KV store itself: a MONGO_URL meant
        # for the store contract tests must not move the services elsewhere.
        inherited = {k: v for k, v in os.environ.items() if k not in MONGO_SETTINGS}
        full_env = {
            **inherited,
            "NATS_URL": self.server.url,
            "WEB_PORT": str(self.web_port),
            "NODE_TTL_S": "3",
            "WORK_DIR": str(self.workdir / "scratch"),
            **env,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=PROJECT_ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            **child_process_options(),
        )
        self.processes[name] = process
        return process

    def stop(self, name: str, kill: bool = False) -> None:
        """Stop one service (SIGTERM, or SIGKILL when `kill`)."""
        process = self.processes.pop(name)
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log(self, name: str) -> str:
        """Everything a service has logged so far."""
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def shutdown(self) -> None:
        """Stop every service, then the server, then remove the work folder."""
        for name in list(self.processes):
            self.stop(name)
        self.server.stop()
        if os.environ.get("KEEP_TEST_LOGS"):
            print(f"logs kept in {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_system() -> RunningSystem:
    """A fresh nats-server in a temp folder; services are started by the caller."""
    workdir = Path(tempfile.mkdtemp(prefix="offload-e2e-"))
    (workdir / "scratch").mkdir()
    server = start_server(workdir / "jetstream", log_file=workdir / "nats.log")
    return RunningSystem(server=server, workdir=workdir, web_port=free_port())


async def wait_until(check, timeout_s: float, what: str, interval_s: float = 0.1):
    """Poll an async `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(interval_s)


async def web_ready(session: aiohttp.ClientSession, base_url: str) -> bool:
    """Whether the web service answers /readyz with 200."""
    try:
        async with session.get(f"{base_url}/readyz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False
