"""Throttled progress reporting for long-running jobs."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[float], None]

# Updates per job before the final 1.0; enough for a smooth progress bar.
DEFAULT_STEPS = 20


class CallbackError(Exception):
    """Carries an exception raised by the caller's progress callback."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


class ProgressReporter:
    """Forwards increasing fractions to a callback at most `steps` times plus 1.0."""

    def __init__(self, callback: ProgressCallback | None, steps: int = DEFAULT_STEPS):
        self._callback = callback
        self._steps = steps
        self._next = 1.0 / steps
        self._last = -1.0

    def update(self, done: int, total: int | None) -> None:
        """Report that done of total units are finished (silently if total unknown)."""
        if self._callback is None or not total or total <= 0:
            return
        # An estimated total can be too small; hold back 1.0 for finish().
        fraction = min(done / total, 0.99)
        if fraction < self._next:
            return
        self._next = (math.floor(fraction * self._steps) + 1) / self._steps
        self._emit(fraction)

    def finish(self) -> None:
        """Report completion."""
        if self._callback is not None:
            self._emit(1.0)

    def _emit(self, fraction: float) -> None:
        if fraction <= self._last:
            return
        self._last = fraction
        assert self._callback is not None
        try:
            self._callback(fraction)
        except Exception as exc:
            # Marked so error wrapping lets it through: a callback may raise to
            # cancel the job, and the caller must get its own exception back.
            raise CallbackError(exc) from exc
