"""A node's settings, read once from the environment."""

import os
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bus.settings import BusSettings, env_float, env_int, env_str
from bus.subjects import check_token
from node.emulation import EmulationSettings


def default_node_id(tier: str) -> str:
    """`<tier>-<host>-<pid>`: unique on one machine, readable in the page."""
    host = "".join(c if c.isalnum() else "-" for c in socket.gethostname())[:20]
    return f"{tier}-{host}-{os.getpid()}"


@dataclass(frozen=True)
class NodeSettings:
    """How one node identifies itself and how hard it works."""

    tier: str
    node_id: str
    concurrency: int = 8
    """Jobs in flight at once (overlaps transfers with compute)."""
    compute_threads: int = 2
    """Jobs computing at once; this is the capacity the coordinator plans with."""
    heartbeat_interval_s: float = 1.0
    """How often the node reports its status to the `nodes` bucket."""
    ack_wait_s: float = 30.0
    """A job not acked or refreshed within this is redelivered."""
    max_deliver: int = 5
    """Deliveries of one job before JetStream gives up on it."""
    max_attempts: int = 3
    """Runs of one job before the node gives up and fails its task (a later
    delivery only records the failure, so max_deliver must be larger)."""
    shutdown_grace_s: float = 30.0
    """How long running jobs may take to finish after a stop signal."""
    check_records: bool = True
    """Read a job's task record before running it (records in the NATS KV
    bucket; with MONGO_URL set nodes need nothing but NATS and skip it)."""
    work_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    """Where inputs and outputs sit while a job runs (names are task ids)."""
    emulation: EmulationSettings = field(default_factory=EmulationSettings)
    """Emulated link and compute speed (none by default)."""
    bus: BusSettings = field(default_factory=BusSettings)

    def __post_init__(self) -> None:
        if self.tier not in ("edge", "cloud"):
            raise ValueError(f"tier must be edge or cloud, not {self.tier!r}")
        check_token(self.node_id, "NODE_ID")
        if self.concurrency < 1 or self.compute_threads < 1:
            raise ValueError("NODE_CONCURRENCY and COMPUTE_THREADS must be >= 1")
        if self.max_attempts < 1:
            raise ValueError("MAX_ATTEMPTS must be at least 1")
        if self.max_deliver != -1 and self.max_deliver <= self.max_attempts:
            raise ValueError(
                f"JOB_MAX_DELIVER ({self.max_deliver}) must be larger than "
                f"MAX_ATTEMPTS ({self.max_attempts}): the delivery after the last "
                "attempt is the one that records the failure"
            )

    @classmethod
    def from_env(cls, tier: str) -> "NodeSettings":
        """Read NODE_ID, NODE_CONCURRENCY, COMPUTE_THREADS, HEARTBEAT_INTERVAL_S,
        JOB_ACK_WAIT_S, JOB_MAX_DELIVER, MAX_ATTEMPTS, SHUTDOWN_GRACE_S, WORK_DIR,
        the emulation (EMULATED_BANDWIDTH_BPS, EMULATED_RTT_MS, SPEED_FACTOR)
        and the bus."""
        cores = os.cpu_count() or 1
        return cls(
            tier=tier,
            node_id=env_str("NODE_ID", default_node_id(tier)),
            concurrency=env_int("NODE_CONCURRENCY", 8),
            compute_threads=env_int("COMPUTE_THREADS", min(cores, 4)),
            heartbeat_interval_s=env_float("HEARTBEAT_INTERVAL_S", 1.0),
            ack_wait_s=env_float("JOB_ACK_WAIT_S", 30.0),
            max_deliver=env_int("JOB_MAX_DELIVER", 5),
            max_attempts=env_int("MAX_ATTEMPTS", 3),
            shutdown_grace_s=env_float("SHUTDOWN_GRACE_S", 30.0),
            check_records=not env_str("MONGO_URL", ""),
            work_dir=Path(env_str("WORK_DIR", tempfile.gettempdir())),
            emulation=EmulationSettings.from_env(),
            bus=BusSettings.from_env(),
        )
