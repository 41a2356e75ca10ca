"""Emulated distance and slowness, so edge and cloud differ on one machine.

A node can pretend to sit behind a link with an added round-trip time and a
limited bandwidth (every input fetch and output store then takes longer), and
to compute slower than the machine it runs on. With these, an edge node near
but slow and a cloud node fast but far make a real trade-off in one box.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from bus.settings import env_float

P = ParamSpec("P")
R = TypeVar("R")

AsyncSleep = Callable[[float], Awaitable[None]]
Sleep = Callable[[float], None]
Clock = Callable[[], float]


@dataclass(frozen=True)
class EmulationSettings:
    """The link and compute speed a node pretends to have."""

    bandwidth_bps: float = 0.0
    """Link bandwidth in bytes per second; 0 means unlimited."""
    rtt_ms: float = 0.0
    """Round-trip time added to every transfer."""
    speed_factor: float = 1.0
    """Compute speed relative to this machine (0.5: twice as slow)."""

    def __post_init__(self) -> None:
        if self.bandwidth_bps < 0:
            raise ValueError(
                f"EMULATED_BANDWIDTH_BPS must be >= 0, not {self.bandwidth_bps}"
            )
        if self.rtt_ms < 0:
            raise ValueError(f"EMULATED_RTT_MS must be >= 0, not {self.rtt_ms}")
        if not 0 < self.speed_factor <= 1:
            raise ValueError(
                f"SPEED_FACTOR must be above 0 and at most 1, not {self.speed_factor}"
            )

    @classmethod
    def from_env(cls) -> "EmulationSettings":
        """Read EMULATED_BANDWIDTH_BPS, EMULATED_RTT_MS and SPEED_FACTOR."""
        return cls(
            bandwidth_bps=env_float("EMULATED_BANDWIDTH_BPS", 0.0),
            rtt_ms=env_float("EMULATED_RTT_MS", 0.0),
            speed_factor=env_float("SPEED_FACTOR", 1.0),
        )

    @property
    def active(self) -> bool:
        """Whether anything is emulated at all."""
        return self.bandwidth_bps > 0 or self.rtt_ms > 0 or self.speed_factor != 1

    def describe(self) -> str:
        """One line for start-up logs, e.g. `rtt 40 ms, 20.0 MB/s, speed x1`."""
        bandwidth = (
            f"{self.bandwidth_bps / 1e6:g} MB/s" if self.bandwidth_bps else "unlimited"
        )
        return f"rtt {self.rtt_ms:g} ms, {bandwidth}, speed x{self.speed_factor:g}"


class Emulation:
    """Applies a node's emulated link and compute speed to its jobs."""

    def __init__(
        self,
        settings: EmulationSettings,
        async_sleep: AsyncSleep = asyncio.sleep,
        sleep: Sleep = time.sleep,
        clock: Clock = time.perf_counter,
    ) -> None:
        self.settings = settings
        self._async_sleep = async_sleep
        self._sleep = sleep
        self._clock = clock

    def transfer_delay_s(self, size_bytes: int) -> float:
        """Extra seconds a transfer of `size_bytes` takes over the emulated link."""
        delay_s = self.settings.rtt_ms / 1000
        if self.settings.bandwidth_bps > 0:
            delay_s += max(size_bytes, 0) / self.settings.bandwidth_bps
        return delay_s

    async def transfer(self, size_bytes: int) -> None:
        """Wait as long as the emulated link adds to a transfer, without blocking."""
        delay_s = self.transfer_delay_s(size_bytes)
        if delay_s > 0:
            await self._async_sleep(delay_s)

    def compute_delay_s(self, compute_s: float) -> float:
        """Extra seconds a slower node would have needed for `compute_s` of work."""
        return max(compute_s, 0.0) * (1 / self.settings.speed_factor - 1)

    def slowed(self, work: Callable[P, R]) -> Callable[P, R]:
        """`work` made to take 1/speed_factor as long, for a compute thread.

        The extra time is slept on the calling thread, so it holds the compute
        slot as slower hardware would; the event loop is never blocked.
        """
        if self.settings.speed_factor == 1:
            return work

        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            began = self._clock()
            try:
                return work(*args, **kwargs)
            finally:
                delay_s = self.compute_delay_s(self._clock() - began)
                if delay_s > 0:
                    self._sleep(delay_s)

        return run

    async def slowed_here(self, work: Callable[..., R], *args: Any) -> R:
        """Run `work` on the calling (event loop) thread, then wait the extra
        time a slower node would have needed, without blocking, so a caller
        holding a compute slot holds it as long as slower hardware would."""
        began = self._clock()
        try:
            return work(*args)
        finally:
            delay_s = self.compute_delay_s(self._clock() - began)
            if delay_s > 0:
                await self._async_sleep(delay_s)

    def reported_speed(self, calibrated: float) -> float:
        """The speed a node announces: what it measured, scaled down."""
        return round(calibrated * self.settings.speed_factor, 3)
