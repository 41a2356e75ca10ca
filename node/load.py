"""What a node knows about its own speed and load, for its heartbeat."""

import time
from dataclasses import dataclass, field

from PIL import Image, ImageFilter

REFERENCE_CALIBRATION_S = 0.0027
"""Time the calibration takes on a reference core; speed 1.0 means as fast."""


def calibrate(rounds: int = 3) -> float:
    """Measure this machine's image-processing speed relative to the reference.

    A small fixed Pillow workload (the kind of work nodes do), best of a few
    rounds so a busy neighbour does not make the node look slow forever.
    """
    image = Image.linear_gradient("L").resize((384, 384)).convert("RGB")
    best_s = float("inf")
    for _ in range(rounds):
        began = time.perf_counter()
        image.convert("L").filter(ImageFilter.GaussianBlur(2)).resize((192, 192))
        best_s = min(best_s, time.perf_counter() - began)
    return round(REFERENCE_CALIBRATION_S / max(best_s, 1e-6), 3)


@dataclass
class LoadTracker:
    """Counts jobs and keeps a moving average of how long one takes."""

    capacity: int
    mean_job_s: float = 0.05
    running: int = 0
    completed: int = 0
    failed: int = 0
    started_at: float = field(default_factory=time.time)
    smoothing: float = 0.1

    def job_started(self) -> None:
        """A job began on this node."""
        self.running += 1

    def job_finished(self, elapsed_s: float, ok: bool) -> None:
        """A job ended; fold its duration into the average."""
        self.running -= 1
        if ok:
            self.completed += 1
        else:
            self.failed += 1
        self.mean_job_s += self.smoothing * (elapsed_s - self.mean_job_s)

    def backlog_s(self, queued: int) -> float:
        """Seconds until this node would start a job sent to it now."""
        return (queued + self.running) * self.mean_job_s / self.capacity
