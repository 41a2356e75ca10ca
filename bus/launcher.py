"""`make run`: the whole system on one machine, stopped cleanly by Ctrl-C.

Starts an embedded nats-server (unless NATS_URL is set), then the coordinator,
the web service, one edge node and one cloud node as child processes. The
nodes emulate their distance so that edge and cloud are a real trade-off on
one machine: by default the edge is near but slow (one compute thread at half
speed, 1 ms away) and the cloud fast but far (two threads, 40 ms round trip,
20 MB/s); EDGE_* and CLOUD_* variables change any of it. Every child is told
by the kernel to exit if this launcher dies, so nothing is left behind even
after a `kill -9`.

The embedded server enforces permissions (NATS_AUTH, on by default): at
every start the launcher makes one user per role with a fresh random
password (`bus/nats_auth.py`), writes them into `$DATA_DIR/nats-server.conf`
(mode 0600), and hands each child its own credentials in its environment.
NATS_EXTRA_EDGE_NODES and NATS_EXTRA_CLOUD_NODES add users for nodes started
by hand later. NATS_SERVER_TLS_CERT and NATS_SERVER_TLS_KEY make the server
speak TLS only (NATS_SERVER_TLS_CA: and require client certificates); the
children then trust it through NATS_TLS_CA.
"""

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bus.logs import configure_logging
from bus.nats_auth import NatsUser, generate_users, user_for
from bus.nats_server import (
    EmbeddedServer,
    ServerTls,
    child_process_options,
    free_port,
    start_server,
)
from bus.settings import (
    CREDENTIAL_VARIABLES,
    env_bool,
    env_float,
    env_int,
    env_path,
    env_str,
)

logger = logging.getLogger(__name__)

STOP_GRACE_S = 20.0


@dataclass(frozen=True)
class Service:
    """One child process of the launcher."""

    name: str
    module: str
    env: dict[str, str]


@dataclass(frozen=True)
class NodeProfile:
    """The emulated place of one node kind: how fast it computes, how far it is."""

    compute_threads: int
    speed_factor: float
    rtt_ms: float
    bandwidth_bps: float
    """Bytes per second; 0 means unlimited."""

    @classmethod
    def from_env(cls, prefix: str, default: "NodeProfile") -> "NodeProfile":
        """Read <prefix>_COMPUTE_THREADS, _SPEED_FACTOR, _RTT_MS, _BANDWIDTH_BPS."""
        return cls(
            compute_threads=env_int(
                f"{prefix}_COMPUTE_THREADS", default.compute_threads
            ),
            speed_factor=env_float(f"{prefix}_SPEED_FACTOR", default.speed_factor),
            rtt_ms=env_float(f"{prefix}_RTT_MS", default.rtt_ms),
            bandwidth_bps=env_float(f"{prefix}_BANDWIDTH_BPS", default.bandwidth_bps),
        )

    def env(self) -> dict[str, str]:
        """The node settings that carry this profile."""
        return {
            "COMPUTE_THREADS": str(self.compute_threads),
            "SPEED_FACTOR": str(self.speed_factor),
            "EMULATED_RTT_MS": str(self.rtt_ms),
            "EMULATED_BANDWIDTH_BPS": str(self.bandwidth_bps),
        }

    def describe(self) -> str:
        """One line for the start-up banner."""
        bandwidth = (
            f"{self.bandwidth_bps / 1e6:g} MB/s" if self.bandwidth_bps else "unlimited"
        )
        return (
            f"{self.compute_threads} compute thread(s) at speed x{self.speed_factor:g}"
            f", rtt {self.rtt_ms:g} ms, bandwidth {bandwidth}"
        )


EDGE_PROFILE = NodeProfile(
    compute_threads=1, speed_factor=0.5, rtt_ms=1.0, bandwidth_bps=0.0
)
"""Near but slow: one thread at half this machine's speed, 1 ms away."""
CLOUD_PROFILE = NodeProfile(
    compute_threads=2, speed_factor=1.0, rtt_ms=40.0, bandwidth_bps=20e6
)
"""Fast but far: two full-speed threads behind 40 ms and 20 MB/s."""


def profiles() -> dict[str, NodeProfile]:
    """The edge and cloud profiles, each value overridable by EDGE_*/CLOUD_*."""
    return {
        "edge": NodeProfile.from_env("EDGE", EDGE_PROFILE),
        "cloud": NodeProfile.from_env("CLOUD", CLOUD_PROFILE),
    }


def node_ids() -> dict[str, str]:
    """The ids of the edge and cloud node `make run` starts."""
    return {
        "edge": env_str("EDGE_NODE_ID", "edge-1"),
        "cloud": env_str("CLOUD_NODE_ID", "cloud-1"),
    }


def env_list(name: str) -> list[str]:
    """A comma-separated setting as a list, empty when unset."""
    return [
        item.strip() for item in os.environ.get(name, "").split(",") if item.strip()
    ]


def launcher_users() -> list[NatsUser]:
    """A user per role, for our nodes and any extra ones, each a new password."""
    ids = node_ids()
    edge = [ids["edge"], *env_list("NATS_EXTRA_EDGE_NODES")]
    cloud = [ids["cloud"], *env_list("NATS_EXTRA_CLOUD_NODES")]
    return generate_users(list(dict.fromkeys(edge)), list(dict.fromkeys(cloud)))


def services(
    nats_url: str,
    chosen: dict[str, NodeProfile],
    users: list[NatsUser] | None = None,
) -> list[Service]:
    """The services `make run` starts, with their environment.

    With `users`, each service gets its own role's credentials.
    """
    ids = node_ids()

    def login(role: str, node_id: str | None = None) -> dict[str, str]:
        return user_for(users, role, node_id).env() if users else {}

    base = {"NATS_URL": nats_url}
    return [
        Service("coordinator", "coordinator", {**base, **login("coordinator")}),
        Service("web", "web", {**base, **login("web")}),
        Service(
            "edge",
            "edge_node",
            {
                **base,
                **chosen["edge"].env(),
                "NODE_ID": ids["edge"],
                **login("edge", ids["edge"]),
            },
        ),
        Service(
            "cloud",
            "cloud_node",
            {
                **base,
                **chosen["cloud"].env(),
                "NODE_ID": ids["cloud"],
                **login("cloud", ids["cloud"]),
            },
        ),
    ]


def start(service: Service) -> subprocess.Popen:
    """Start one service as a child that exits when the launcher does.

    A service given credentials gets none of the launcher's own: one login
    per service, never a mix of two.
    """
    inherited = dict(os.environ)
    if "NATS_USER" in service.env:
        for name in CREDENTIAL_VARIABLES:
            inherited.pop(name, None)
    env = {**inherited, **service.env}
    return subprocess.Popen(
        [sys.executable, "-m", service.module], env=env, **child_process_options()
    )


def server_tls() -> ServerTls | None:
    """The embedded server's TLS from NATS_SERVER_TLS_CERT/KEY (and _CA)."""
    cert = env_path("NATS_SERVER_TLS_CERT")
    key = env_path("NATS_SERVER_TLS_KEY")
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ValueError(
            "NATS_SERVER_TLS_CERT and NATS_SERVER_TLS_KEY must be set together"
        )
    if env_path("NATS_TLS_CA") is None:
        logger.warning(
            "nats-server speaks TLS but NATS_TLS_CA is unset: the services "
            "will trust its certificate only if a system CA signed it"
        )
    return ServerTls(cert, key, env_path("NATS_SERVER_TLS_CA"))


def embedded_server(
    data_dir: Path, users: list[NatsUser], tls: ServerTls | None = None
) -> EmbeddedServer:
    """Start nats-server on NATS_PORT (4222), or a free port if that is taken."""
    port = env_int("NATS_PORT", 4222)
    store_dir = data_dir / "jetstream"
    try:
        return start_server(store_dir, port=port, users=users, tls=tls)
    except RuntimeError:
        other = free_port()
        logger.warning("port %d is taken; starting nats-server on %d", port, other)
        return start_server(store_dir, port=other, users=users, tls=tls)


def stop_all(children: dict[str, subprocess.Popen]) -> None:
    """SIGTERM every child, wait for the grace period, then SIGKILL stragglers."""
    for process in children.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for name, process in children.items():
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop in time; killing it", name)
            process.kill()
            process.wait()


def main() -> None:
    """Run everything until Ctrl-C, SIGTERM, or a service dies."""
    configure_logging(service="launcher")
    stopping = False

    def request_stop(signum: int, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    server: EmbeddedServer | None = None
    users: list[NatsUser] = []
    nats_url = os.environ.get("NATS_URL", "")
    if not nats_url:
        data_dir = Path(env_str("DATA_DIR", "data")).resolve()
        if env_bool("NATS_AUTH", True):
            users = launcher_users()
        server = embedded_server(data_dir, users, server_tls())
        nats_url = server.url
        logger.info("embedded nats-server at %s, data in %s", nats_url, data_dir)
        if server.config_file is not None:
            logger.info(
                "nats-server users and permissions in %s (owner-only)",
                server.config_file,
            )
        else:
            logger.warning("NATS_AUTH is off: any local client may do anything")

    children: dict[str, subprocess.Popen] = {}
    exit_code = 0
    try:
        chosen = profiles()
        for service in services(nats_url, chosen, users):
            children[service.name] = start(service)
        host = env_str("WEB_HOST", "127.0.0.1")
        port = env_int("WEB_PORT", 5002)
        scheme = "https" if os.environ.get("WEB_TLS_CERT") else "http"
        print(f"\n  Offload is starting: open {scheme}://{host}:{port}/\n", flush=True)
        for tier, profile in chosen.items():
            print(f"  {tier:<5} node: {profile.describe()}", flush=True)
        print("\n  Press Ctrl-C to stop everything.\n", flush=True)

        while not stopping:
            for name, process in children.items():
                if process.poll() is not None:
                    logger.error("%s exited with status %s", name, process.returncode)
                    stopping = True
                    exit_code = 1
            time.sleep(0.2)
    finally:
        logger.info("stopping services")
        stop_all(children)
        if server is not None:
            server.stop()
        logger.info("everything stopped")
    sys.exit(exit_code)


if __name__ == "__main__":
    main()
