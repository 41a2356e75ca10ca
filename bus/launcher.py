"""`make run`: the whole system on one machine, stopped cleanly by Ctrl-C.

Starts an embedded nats-server (unless NATS_URL is set), then the coordinator,
the web service, one edge node and one cloud node as child processes. The
nodes emulate their distance so that edge and cloud are a real trade-off on
one machine: by default the edge is near but slow (one compute thread at half
speed, 1 ms away) and the cloud fast but far (two threads, 40 ms round trip,
20 MB/s); EDGE_* and CLOUD_* variables change any of it. Every child is told
by the kernel to exit if this launcher dies, so nothing is left behind even
after a `kill -9`.
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
from bus.nats_server import (
    EmbeddedServer,
    child_process_options,
    free_port,
    start_server,
)
from bus.settings import env_float, env_int, env_str

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


def services(nats_url: str, chosen: dict[str, NodeProfile]) -> list[Service]:
    """The services `make run` starts, with their environment."""
    base = {"NATS_URL": nats_url}
    return [
        Service("coordinator", "coordinator", base),
        Service("web", "web", base),
        Service(
            "edge",
            "edge_node",
            {
                **base,
                **chosen["edge"].env(),
                "NODE_ID": env_str("EDGE_NODE_ID", "edge-1"),
            },
        ),
        Service(
            "cloud",
            "cloud_node",
            {
                **base,
                **chosen["cloud"].env(),
                "NODE_ID": env_str("CLOUD_NODE_ID", "cloud-1"),
            },
        ),
    ]


def start(service: Service) -> subprocess.Popen:
    """Start one service as a child that exits when the launcher does."""
    env = {**os.environ, **service.env}
    return subprocess.Popen(
        [sys.executable, "-m", service.module], env=env, **child_process_options()
    )


def embedded_server(data_dir: Path) -> EmbeddedServer:
    """Start nats-server on NATS_PORT (4222), or a free port if that is taken."""
    port = env_int("NATS_PORT", 4222)
    try:
        return start_server(data_dir / "jetstream", port=port, log_file=None)
    except RuntimeError:
        other = free_port()
        logger.warning("port %d is taken; starting nats-server on %d", port, other)
        return start_server(data_dir / "jetstream", port=other, log_file=None)


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
    nats_url = os.environ.get("NATS_URL", "")
    if not nats_url:
        data_dir = Path(env_str("DATA_DIR", "data")).resolve()
        server = embedded_server(data_dir)
        nats_url = server.url
        logger.info("embedded nats-server at %s, data in %s", nats_url, data_dir)

    children: dict[str, subprocess.Popen] = {}
    exit_code = 0
    try:
        chosen = profiles()
        for service in services(nats_url, chosen):
            children[service.name] = start(service)
        host = env_str("WEB_HOST", "127.0.0.1")
        port = env_int("WEB_PORT", 5002)
        print(f"\n  Offload is starting: open http://{host}:{port}/\n", flush=True)
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
