"""Emulated links and compute speed: delays are computed right and never block."""

import asyncio
import time

import pytest

from node.emulation import Emulation, EmulationSettings
from node.settings import NodeSettings


class FakeClock:
    """A clock that moves only when the code under test sleeps or works."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def emulation(clock: FakeClock, **settings) -> Emulation:
    return Emulation(
        EmulationSettings(**settings),
        async_sleep=clock.async_sleep,
        sleep=clock.sleep,
        clock=clock,
    )


async def test_transfer_waits_round_trip_plus_bytes_over_bandwidth():
    clock = FakeClock()
    far = emulation(clock, rtt_ms=40, bandwidth_bps=20e6)

    await far.transfer(2_000_000)

    assert clock.slept == [pytest.approx(0.04 + 0.1)]


async def test_unlimited_bandwidth_adds_only_the_round_trip():
    clock = FakeClock()
    near = emulation(clock, rtt_ms=1)

    await near.transfer(10**9)

    assert clock.slept == [pytest.approx(0.001)]


async def test_no_emulation_never_sleeps():
    clock = FakeClock()
    plain = emulation(clock)

    await plain.transfer(5_000_000)
    result = plain.slowed(lambda: clock.sleep(0.2) or "done")()

    assert result == "done"
    assert clock.slept == [0.2]  # only the work itself
    assert not plain.settings.active


def test_slow_node_computes_one_over_factor_as_long():
    clock = FakeClock()
    slow = emulation(clock, speed_factor=0.25)

    def work(seconds: float) -> str:
        clock.sleep(seconds)
        return "out"

    assert slow.slowed(work)(0.1) == "out"

    assert clock.now == pytest.approx(0.4)
    assert clock.slept[1] == pytest.approx(0.3)


def test_failed_work_is_slowed_too_and_still_raises():
    clock = FakeClock()
    slow = emulation(clock, speed_factor=0.5)

    def broken() -> None:
        clock.sleep(0.05)
        raise ValueError("bad file")

    with pytest.raises(ValueError, match="bad file"):
        slow.slowed(broken)()
    assert clock.now == pytest.approx(0.1)


async def test_work_on_the_event_loop_is_followed_by_the_slower_nodes_extra_time():
    clock = FakeClock()
    half_speed = emulation(clock, speed_factor=0.5)

    def work() -> str:
        clock.now += 0.002  # the work itself takes 2 ms
        return "done"

    assert await half_speed.slowed_here(work) == "done"
    assert clock.slept == [pytest.approx(0.002)]


def test_reported_speed_is_calibrated_speed_times_factor():
    slow = Emulation(EmulationSettings(speed_factor=0.5))

    assert slow.reported_speed(1.8) == pytest.approx(0.9)


async def test_transfer_delay_does_not_block_the_event_loop():
    far = Emulation(EmulationSettings(rtt_ms=100))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    counting = asyncio.create_task(ticker())
    began = time.perf_counter()
    await far.transfer(0)
    elapsed_s = time.perf_counter() - began
    counting.cancel()

    assert elapsed_s == pytest.approx(0.1, abs=0.05)
    assert ticks >= 5


def test_slowed_compute_in_a_thread_leaves_the_event_loop_free():
    slow = Emulation(EmulationSettings(speed_factor=0.5))

    def work() -> float:
        time.sleep(0.05)
        return 1.0

    async def main() -> tuple[float, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        counting = asyncio.create_task(ticker())
        began = time.perf_counter()
        await asyncio.to_thread(slow.slowed(work))
        elapsed_s = time.perf_counter() - began
        counting.cancel()
        return elapsed_s, ticks

    elapsed_s, ticks = asyncio.run(main())

    assert elapsed_s == pytest.approx(0.1, abs=0.05)
    assert ticks >= 5


@pytest.mark.parametrize(
    ("field", "value"),
    [("bandwidth_bps", -1.0), ("rtt_ms", -5.0), ("speed_factor", 0.0)],
)
def test_impossible_settings_are_refused(field, value):
    with pytest.raises(ValueError, match="must be"):
        EmulationSettings(**{field: value})


def test_node_settings_read_the_emulation_from_the_environment(monkeypatch):
    monkeypatch.setenv("EMULATED_BANDWIDTH_BPS", "20000000")
    monkeypatch.setenv("EMULATED_RTT_MS", "40")
    monkeypatch.setenv("SPEED_FACTOR", "0.5")
    monkeypatch.setenv("NODE_ID", "edge-x")

    settings = NodeSettings.from_env("edge")

    assert settings.emulation == EmulationSettings(20e6, 40.0, 0.5)
    assert settings.emulation.describe() == "rtt 40 ms, 20 MB/s, speed x0.5"
