"""Estimates the coordinator keeps learning: work per task, and the links' speed.

Work is measured in reference seconds (seconds on a node of speed 1.0) per
megabyte of input, per (kind, operation), plus a fixed overhead per task.
Each completion refines the figure for its operation with a moving average,
so the estimates follow what the nodes really do.
"""

from dataclasses import dataclass, field

MB = 1024 * 1024

PRIOR_S_PER_MB = {"image": 0.05, "video": 8.0}
"""Starting guesses, in reference seconds per MB, before anything is measured."""
OVERHEAD_S = 0.002


@dataclass
class LinkEstimate:
    """Measured bandwidth and round-trip time to one tier."""

    bandwidth_bps: float = 100 * MB
    rtt_s: float = 0.001


@dataclass
class CostModel:
    """Work estimates per operation and link estimates per tier."""

    smoothing: float = 0.2
    s_per_mb: dict[tuple[str, str], float] = field(default_factory=dict)
    links: dict[str, LinkEstimate] = field(
        default_factory=lambda: {"edge": LinkEstimate(), "cloud": LinkEstimate()}
    )
    observations: int = 0

    def work_s(self, kind: str, operation: str, size_bytes: int) -> float:
        """Estimated reference seconds to run `operation` on this input."""
        rate = self.s_per_mb.get((kind, operation), PRIOR_S_PER_MB.get(kind, 1.0))
        return OVERHEAD_S + rate * size_bytes / MB

    def observe_compute(
        self, kind: str, operation: str, size_bytes: int, compute_s: float, speed: float
    ) -> None:
        """Fold one measured compute time (on a node of `speed`) into the estimate."""
        if size_bytes <= 0 or compute_s <= 0:
            return
        sample = max(compute_s * max(speed, 1e-6) - OVERHEAD_S, 0.0) / (size_bytes / MB)
        key = (kind, operation)
        known = self.s_per_mb.get(key)
        self.s_per_mb[key] = (
            sample if known is None else known + self.smoothing * (sample - known)
        )
        self.observations += 1

    def observe_transfer(self, tier: str, size_bytes: int, transfer_s: float) -> None:
        """Fold one measured transfer into the tier's bandwidth estimate."""
        link = self.links.setdefault(tier, LinkEstimate())
        if transfer_s <= 0:
            return
        if size_bytes < 64 * 1024:
            # Small files measure latency, not bandwidth.
            link.rtt_s += self.smoothing * (transfer_s - link.rtt_s)
            return
        sample = size_bytes / max(transfer_s - link.rtt_s, 1e-4)
        link.bandwidth_bps += self.smoothing * (sample - link.bandwidth_bps)
