"""What a placement policy sees and what it answers."""

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskEstimate:
    """One task to place, as the cost model sees it."""

    task_id: str
    size_bytes: int
    work_s: float
    """Compute seconds on a node of speed 1.0."""


@dataclass
class NodeView:
    """A node (or the cloud pool) as the policy sees it right now."""

    node_id: str
    tier: str
    speed: float
    """Work seconds done per second by one compute slot."""
    capacity: int
    """Compute slots working in parallel."""
    backlog_s: float
    """Seconds before a newly sent job would start."""
    bandwidth_bps: float
    """Measured bytes per second for moving files to and from this node."""
    rtt_s: float
    """Measured round-trip time to this node."""
    heartbeat_at: float = 0.0
    """Wall-clock time of the newest heartbeat behind this view (0: unknown)."""

    def transfer_s(self, size_bytes: int) -> float:
        """Time to move a task's input there and its output back (about as big)."""
        return self.rtt_s + 2 * size_bytes / max(self.bandwidth_bps, 1.0)

    def compute_s(self, work_s: float) -> float:
        """Time one slot of this node needs for `work_s` of reference work."""
        return work_s / max(self.speed, 1e-6)


@dataclass(frozen=True)
class Placement:
    """Where one task goes and why."""

    task_id: str
    tier: str
    node_id: str | None
    """The edge node, or None for the shared cloud queue."""
    planned_finish_s: float
    """Seconds from now the policy expects the task to finish."""
    estimated_work_s: float
    reason: str
