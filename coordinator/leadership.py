"""One active coordinator: leadership is a key in the `leader` bucket.

The bucket's entries expire LEADER_TTL_S after their last write. The leader
rewrites its key every LEADER_REFRESH_S with `update(last=revision)`, which
lands only if nobody wrote the key since; a standby tries `create`, which
lands only once the key has expired or been released. So at most one
coordinator holds the key at a time.

Holding the key is not enough to act on it: a paused or partitioned leader
cannot know the key expired. A leader therefore trusts its lease only until
the moment it sent its last successful write, plus the TTL, minus a safety
margin, on its own monotonic clock. The server's expiry comes at least a
margin later, so the old leader has stopped fetching before a standby can
take over.
"""

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import nats.errors
from nats.js import JetStreamContext
from nats.js.errors import APIError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from bus import subjects
from bus.provision import LEADER_TTL_S
from bus.settings import env_float, env_str
from bus.subjects import check_token

logger = logging.getLogger(__name__)

BUS_ERRORS = (nats.errors.Error, APIError, TimeoutError)


def default_coordinator_id() -> str:
    """`coordinator-<host>-<pid>`: unique on one machine, readable in logs."""
    host = "".join(c if c.isalnum() else "-" for c in socket.gethostname())[:20]
    return f"coordinator-{host}-{os.getpid()}"


@dataclass(frozen=True)
class LeadershipSettings:
    """How a coordinator campaigns for and keeps the leader key."""

    coordinator_id: str
    """The name this coordinator writes into the leader key."""
    refresh_interval_s: float = 1.0
    """How often the leader rewrites its key."""
    standby_poll_s: float = 0.5
    """How often a standby tries to take the key."""
    safety_margin_s: float = 1.0
    """A leader stops this long before the key can expire on the server."""

    def __post_init__(self) -> None:
        check_token(self.coordinator_id, "COORDINATOR_ID")
        if self.refresh_interval_s <= 0 or self.standby_poll_s <= 0:
            raise ValueError("LEADER_REFRESH_S and LEADER_POLL_S must be positive")
        if self.safety_margin_s < 0:
            raise ValueError("LEADER_MARGIN_S must not be negative")

    @classmethod
    def from_env(cls) -> "LeadershipSettings":
        """Read COORDINATOR_ID, LEADER_REFRESH_S, LEADER_POLL_S, LEADER_MARGIN_S."""
        return cls(
            coordinator_id=env_str("COORDINATOR_ID", default_coordinator_id()),
            refresh_interval_s=env_float("LEADER_REFRESH_S", 1.0),
            standby_poll_s=env_float("LEADER_POLL_S", 0.5),
            safety_margin_s=env_float("LEADER_MARGIN_S", 1.0),
        )


async def leader_bucket(js: JetStreamContext) -> KeyValue:
    """The provisioned `leader` bucket."""
    return await js.key_value(subjects.LEADER_BUCKET)


async def current_leader(kv: KeyValue) -> str | None:
    """The id of the coordinator holding the leader key, if any."""
    try:
        entry = await kv.get(subjects.LEADER_KEY)
    except KeyNotFoundError:
        return None
    return entry.value.decode() if entry.value else None


class Leadership:
    """Campaigns for the leader key and keeps it while this coordinator lives."""

    def __init__(
        self,
        kv: KeyValue,
        settings: LeadershipSettings,
        ttl_s: float = LEADER_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if settings.refresh_interval_s + settings.safety_margin_s >= ttl_s:
            raise ValueError(
                f"LEADER_REFRESH_S ({settings.refresh_interval_s}) plus "
                f"LEADER_MARGIN_S ({settings.safety_margin_s}) must be shorter "
                f"than the leader key's TTL ({ttl_s})"
            )
        self._kv = kv
        self._settings = settings
        self._ttl_s = ttl_s
        self._clock = clock
        self._value = settings.coordinator_id.encode()
        self._revision: int | None = None
        self._valid_until = 0.0
        self._elected = asyncio.Event()
        self._deposed = asyncio.Event()
        self._seen_leader: str | None = None

    @classmethod
    async def open(
        cls, js: JetStreamContext, settings: LeadershipSettings
    ) -> "Leadership":
        """Bind to the leader bucket, taking the TTL the bucket really has."""
        kv = await leader_bucket(js)
        status = await kv.status()
        return cls(kv, settings, ttl_s=status.ttl or LEADER_TTL_S)

    @property
    def coordinator_id(self) -> str:
        """The name this coordinator campaigns under."""
        return self._settings.coordinator_id

    @property
    def leading(self) -> bool:
        """Whether this coordinator may act as leader at this instant."""
        return self._revision is not None and self._clock() < self._valid_until

    def lease_left_s(self) -> float:
        """Seconds the lease stays trustworthy without another refresh."""
        if self._revision is None:
            return 0.0
        return max(self._valid_until - self._clock(), 0.0)

    async def wait_leading(self, stop: asyncio.Event) -> bool:
        """Wait until elected (True) or until `stop` is set (False)."""
        await _first_of(self._elected, stop)
        return not stop.is_set() and self.leading

    async def wait_deposed(self, stop: asyncio.Event) -> None:
        """Wait until leadership is lost or `stop` is set."""
        await _first_of(self._deposed, stop)

    async def run(self, stop: asyncio.Event) -> None:
        """Campaign while standing by, refresh while leading, until `stop`."""
        while not stop.is_set():
            if self._revision is None:
                await self._try_to_lead()
            else:
                await self._refresh()
            if self._revision is None:
                pause_s = self._settings.standby_poll_s
            else:
                # Wake no later than the lease runs out, so a refresh that
                # keeps failing is noticed on time.
                pause_s = min(self._settings.refresh_interval_s, self.lease_left_s())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause_s)

    async def release(self) -> None:
        """Give the key up so a standby takes over without waiting for expiry."""
        revision = self._revision
        if revision is None:
            return
        self._forget_lease()
        logger.info("%s gives up leadership: shutting down", self.coordinator_id)
        try:
            await self._kv.delete(subjects.LEADER_KEY, last=revision)
        except (*BUS_ERRORS, KeyWrongLastSequenceError) as error:
            logger.debug("could not release the leader key: %s", error)

    async def _try_to_lead(self) -> None:
        sent = self._clock()
        try:
            revision = await asyncio.wait_for(
                self._kv.create(subjects.LEADER_KEY, self._value), timeout=self._ttl_s
            )
        except KeyWrongLastSequenceError:
            await self._note_other_leader()
            return
        except BUS_ERRORS as error:
            logger.debug("could not campaign for leadership: %s", error)
            return
        self._revision = revision
        self._valid_until = sent + self._ttl_s - self._settings.safety_margin_s
        self._seen_leader = None
        self._deposed.clear()
        self._elected.set()
        logger.info("%s is now the leader", self.coordinator_id)

    async def _refresh(self) -> None:
        left_s = self.lease_left_s()
        if left_s <= 0:
            self._step_down("the lease ran out before it could be refreshed")
            return
        sent = self._clock()
        try:
            # Bounded by the lease: a write that hangs past it is a lost lease.
            revision = await asyncio.wait_for(
                self._kv.update(subjects.LEADER_KEY, self._value, last=self._revision),
                timeout=left_s,
            )
        except KeyWrongLastSequenceError:
            self._step_down("the leader key expired or was taken")
            return
        except BUS_ERRORS as error:
            if self.lease_left_s() <= 0:
                self._step_down(f"the key could not be refreshed ({error})")
            else:
                logger.warning("could not refresh the leader key: %s", error)
            return
        if not self.leading:
            # Paused between sending and hearing back: the write may have
            # landed too late to count, so act as if it had not.
            self._step_down("the refresh came back after the lease ran out")
            return
        self._revision = revision
        self._valid_until = sent + self._ttl_s - self._settings.safety_margin_s

    def _step_down(self, reason: str) -> None:
        self._forget_lease()
        logger.info("%s lost leadership: %s", self.coordinator_id, reason)

    def _forget_lease(self) -> None:
        self._revision = None
        self._valid_until = 0.0
        self._elected.clear()
        self._deposed.set()

    async def _note_other_leader(self) -> None:
        try:
            leader = await current_leader(self._kv)
        except BUS_ERRORS:
            return
        if leader is not None and leader != self._seen_leader:
            logger.info("%s standing by; %s leads", self.coordinator_id, leader)
            self._seen_leader = leader


async def _first_of(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
