"""Pull consumers: bind a durable, fetch in batches or take messages as they
come, drop malformed messages.

A message that cannot be decoded is logged once with its subject and
terminated, so it is never redelivered and never blocks the messages behind it.

Both kinds ride out a NATS restart: a streaming consumer asks the server for
a heartbeat on every open pull and asks again when they stop coming, and a
consumer the server no longer has (deleted, or lost with a server's state)
is created again by whichever kind was using it.
"""

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError, NotFoundError

from bus.errors import MalformedMessage

logger = logging.getLogger(__name__)

T = TypeVar("T")

PULL_EXPIRES_S = 5.0
"""How long one pull request of a streaming consumer waits on the server."""
PULL_HEARTBEAT_S = 1.0
"""The server says an open pull request is still there this often."""
PULL_LOST_AFTER_HEARTBEATS = 3
"""Heartbeats missed in a row that mean the requests were lost (a restarted
or replaced server forgets them)."""
PULL_RETRY_S = 1.0
"""Pause before pulling again after the server refused or ended a pull."""
DRAIN_TIMEOUT_S = 2.0


class Delivery(Generic[T]):
    """A decoded message with the handle needed to settle it."""

    __slots__ = ("item", "msg")

    def __init__(self, msg: Msg, item: T) -> None:
        self.msg = msg
        self.item = item

    @property
    def attempt(self) -> int:
        """How many times this message has been delivered, starting at 1."""
        return self.msg.metadata.num_delivered or 1


class PullConsumer(Generic[T]):
    """A durable pull consumer that yields batches of decoded messages."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        durable: str,
        filter_subject: str,
        decode: Callable[[bytes], T],
        ack_wait_s: float = 30.0,
        max_deliver: int = 5,
        max_ack_pending: int = 10_000,
    ) -> None:
        self._js = js
        self._stream = stream
        self._durable = durable
        self._filter = filter_subject
        self._decode = decode
        self._config = durable_config(
            durable, filter_subject, ack_wait_s, max_deliver, max_ack_pending
        )
        self._subscription: JetStreamContext.PullSubscription | None = None

    async def bind(self) -> None:
        """Create the durable consumer if needed and subscribe to it."""
        self._subscription = await self._js.pull_subscribe(
            self._filter,
            durable=self._durable,
            stream=self._stream,
            config=self._config,
        )
        logger.info(
            "consumer %s bound on %s (%s)", self._durable, self._stream, self._filter
        )

    async def close(self) -> None:
        """Unsubscribe; the durable consumer stays on the server for next time.

        Pull subscriptions must go before the connection drains: nothing reads
        their queue, so a drain would wait on them until it times out.
        """
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
            self._subscription = None

    async def fetch(self, size: int, wait_s: float) -> list[Delivery[T]]:
        """Up to `size` decoded messages; [] when none came within `wait_s`.

        Raises ConnectionClosedError once the connection is closed for good.
        """
        if self._subscription is None:
            await self.bind()
        assert self._subscription is not None
        try:
            messages = await self._subscription.fetch(batch=size, timeout=wait_s)
        except TimeoutError:
            # The client raises its own TimeoutError or a bare asyncio one
            # depending on where the wait ran out; both mean "nothing yet".
            return []
        except (nats.errors.ConnectionClosedError, nats.errors.DrainTimeoutError):
            raise nats.errors.ConnectionClosedError from None
        except (nats.errors.Error, APIError) as error:
            # Disconnected or JetStream briefly unavailable: the client
            # reconnects on its own; the caller simply asks again. A consumer
            # that is gone (a server that lost its state) is made again.
            logger.warning("fetch on %s failed: %s; retrying", self._durable, error)
            await asyncio.sleep(0.5)
            await self._rebind_if_gone()
            return []
        decoded = [await self._decoded(message) for message in messages]
        return [delivery for delivery in decoded if delivery is not None]

    async def _rebind_if_gone(self) -> None:
        try:
            await self._js.consumer_info(self._stream, self._durable)
        except NotFoundError:
            logger.warning("consumer %s is gone; binding it again", self._durable)
            await self.close()
            with contextlib.suppress(nats.errors.Error, APIError):
                await self.bind()
        except (nats.errors.Error, APIError):
            pass  # still unreachable: the next failed fetch looks again

    async def batches(
        self, stop: asyncio.Event, max_batch: Callable[[], int], wait_s: float = 1.0
    ) -> AsyncIterator[list[Delivery[T]]]:
        """Yield non-empty batches until `stop` is set or the connection closes.

        `max_batch` is asked before every fetch, so a worker with no free slot
        fetches nothing (it should wait for a slot instead of asking for 0).
        """
        while not stop.is_set():
            size = max_batch()
            if size <= 0:
                await asyncio.sleep(0.01)
                continue
            try:
                batch = await self.fetch(size, wait_s)
            except nats.errors.ConnectionClosedError:
                return
            if batch:
                yield batch

    async def _decoded(self, msg: Msg) -> Delivery[T] | None:
        try:
            return Delivery(msg, self._decode(msg.data))
        except MalformedMessage as error:
            logger.warning("dropping message on %s: %s", msg.subject, error)
            await settle(msg.term())
            return None


class StreamingConsumer(Generic[T]):
    """A durable pull consumer that hands over each message as soon as it comes.

    It keeps pull requests open on the server for as many messages as its
    receiver has room for. A message is handed over the moment it is stored,
    not when a batch has filled, and one request covers many messages when
    they trickle in.

    The server sends no word when a request has brought all it asked for, and
    a 408 with the number it still owed when one expires; so the consumer
    counts what is owed in total: up by each request, down by each message
    and by what an expired request still owed.
    """

    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        stream: str,
        durable: str,
        filter_subject: str,
        decode: Callable[[bytes], T],
        ack_wait_s: float = 30.0,
        max_deliver: int = 5,
        max_ack_pending: int = 10_000,
        pull_expires_s: float = PULL_EXPIRES_S,
        pull_heartbeat_s: float = PULL_HEARTBEAT_S,
    ) -> None:
        self._nc = nc
        self._js = js
        self._stream = stream
        self._durable = durable
        self._filter = filter_subject
        self._decode = decode
        self._config = durable_config(
            durable, filter_subject, ack_wait_s, max_deliver, max_ack_pending
        )
        self._next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._expires_ns = int(pull_expires_s * 1e9)
        # The server refuses a heartbeat that is not well inside the expiry.
        heartbeat_s = min(pull_heartbeat_s, pull_expires_s / 2)
        self._heartbeat_ns = int(heartbeat_s * 1e9)
        self._lost_after_s = heartbeat_s * PULL_LOST_AFTER_HEARTBEATS
        self._room: Callable[[], int] = lambda: 0
        self._receive: Callable[[Delivery[T]], None] | None = None
        self._subscription: Subscription | None = None
        self._inbox = ""
        self.owed = 0
        """Messages the open pull requests may still bring."""
        self._heard_at = 0.0
        self._watchdog: asyncio.TimerHandle | None = None
        self._paused: asyncio.TimerHandle | None = None
        self._requests: set[asyncio.Future[None]] = set()
        self._check_consumer = False
        """Whether the last pull ended in a way that says the consumer is gone."""

    async def start(
        self, room: Callable[[], int], receive: Callable[[Delivery[T]], None]
    ) -> None:
        """Bind if needed and feed `receive`, never owing more than `room()`.

        `receive` is called on the event loop for every decoded message; it
        must take the message at once (start a task), not process it inline.
        Call `pull()` whenever the receiver's room grows.
        """
        self._room = room
        self._receive = receive
        if self._subscription is None:
            await self.bind()
        else:
            self.pull()

    async def bind(self) -> None:
        """Create the durable consumer if needed and subscribe a fresh inbox."""
        await self.close()
        await self._ensure_consumer()
        self._inbox = self._nc.new_inbox()
        self._subscription = await self._nc.subscribe(self._inbox, cb=self._received)
        logger.info(
            "consumer %s bound on %s (%s), streaming",
            self._durable,
            self._stream,
            self._filter,
        )
        self.pull()

    async def close(self) -> None:
        """Stop pulling; messages already on their way are handed back (nak).

        The durable consumer stays on the server for next time. Once the
        inbox is gone the server drops our open pull requests.
        """
        subscription, self._subscription = self._subscription, None
        self.owed = 0
        for timer in (self._watchdog, self._paused):
            if timer is not None:
                timer.cancel()
        self._watchdog = self._paused = None
        if subscription is None:
            return
        try:
            await asyncio.wait_for(subscription.drain(), DRAIN_TIMEOUT_S)
        except Exception as error:  # connection away: they come back after ack wait
            logger.debug("could not drain %s: %s", self._durable, error)
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    def pull(self) -> None:
        """Open a pull request if the receiver has enough room beyond what is owed.

        With nothing owed, any room is worth a request; otherwise the new
        request must be at least as large as what is still owed, so that
        while messages trickle in one request covers several of them instead
        of one request per finished job.
        """
        if self._subscription is None or self._paused is not None:
            return
        room = self._room() - self.owed
        if room <= 0 or room < self.owed:
            return
        self.owed += room
        request = {
            "batch": room,
            "expires": self._expires_ns,
            "idle_heartbeat": self._heartbeat_ns,
        }
        task = asyncio.ensure_future(
            self._nc.publish(
                self._next_subject, json.dumps(request).encode(), reply=self._inbox
            )
        )
        self._requests.add(task)
        task.add_done_callback(self._request_sent)
        self._heard_at = time.monotonic()
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().call_later(
                self._lost_after_s, self._check_lost
            )

    def _request_sent(self, task: asyncio.Task[None]) -> None:
        self._requests.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Only a closed connection refuses a publish; the watchdog would
            # ask again if it came back.
            logger.debug("pull request not sent: %s", task.exception())

    def _check_lost(self) -> None:
        # An open request brings a heartbeat every pull_heartbeat_s and a 408
        # when it expires; silence for several heartbeats while something is
        # owed means the requests were lost (the server restarted, or we
        # reconnected to another one).
        self._watchdog = None
        if self.owed <= 0 or self._subscription is None:
            return
        quiet_s = time.monotonic() - self._heard_at
        if quiet_s >= self._lost_after_s:
            logger.info("pull requests on %s lost; asking again", self._durable)
            self.owed = 0
            self.pull()
            return
        self._watchdog = asyncio.get_running_loop().call_later(
            self._lost_after_s - quiet_s, self._check_lost
        )

    async def _received(self, msg: Msg) -> None:
        self._heard_at = time.monotonic()
        status = msg.headers.get("Status") if msg.headers else None
        if status is not None and not msg.data:
            if status != "100":  # an idle heartbeat ends nothing
                self._pull_ended(status, msg.headers or {})
            return

        self.owed = max(self.owed - 1, 0)
        if self._subscription is None or self._receive is None:
            await settle(msg.nak())  # closing: another worker may take it now
            return
        delivery = await self._decoded(msg)
        if delivery is None:
            self.pull()
            return
        self._receive(delivery)

    def _pull_ended(self, status: str, headers: dict[str, str]) -> None:
        unserved = headers.get("Nats-Pending-Messages")
        if unserved is not None and unserved.isdigit():
            self.owed = max(self.owed - int(unserved), 0)
        else:  # an end without the count: assume nothing else is open
            self.owed = 0
        if status == "408":  # expired: ask again at once
            self.pull()
            return
        # 409 (consumer deleted, leadership change, ...) or 503 (no such
        # consumer): asking again at once would only spin.
        description = (headers.get("Description") or "").strip().split("\n")[0]
        logger.info("pull on %s ended: %s %s", self._durable, status, description)
        if status in ("404", "503") or "consumer deleted" in description.lower():
            self._check_consumer = True
        if self._paused is None:
            self._paused = asyncio.get_running_loop().call_later(
                PULL_RETRY_S, self._resume
            )

    def _resume(self) -> None:
        if self._subscription is None:  # closed meanwhile
            self._paused = None
            return
        if not self._check_consumer:
            self._paused = None
            self.pull()
            return
        # Stay paused while the consumer is looked for and made again.
        task = asyncio.ensure_future(self._recover())
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    async def _recover(self) -> None:
        try:
            await self._ensure_consumer()
            self._check_consumer = False
        except Exception as error:  # unreachable yet: look again after a pause
            logger.info("consumer %s not back yet: %s", self._durable, error)
        self._paused = None
        if self._subscription is None:  # closed meanwhile
            return
        if self._check_consumer:
            self._paused = asyncio.get_running_loop().call_later(
                PULL_RETRY_S, self._resume
            )
        else:
            self.pull()

    async def _ensure_consumer(self) -> None:
        """Create the durable consumer when the server does not have it."""
        try:
            await self._js.consumer_info(self._stream, self._durable)
        except NotFoundError:
            await self._js.add_consumer(self._stream, self._config)
            logger.info("consumer %s created on %s", self._durable, self._stream)

    async def _decoded(self, msg: Msg) -> Delivery[T] | None:
        try:
            return Delivery(msg, self._decode(msg.data))
        except MalformedMessage as error:
            logger.warning("dropping message on %s: %s", msg.subject, error)
            await settle(msg.term())
            return None


def durable_config(
    durable: str,
    filter_subject: str,
    ack_wait_s: float,
    max_deliver: int,
    max_ack_pending: int,
) -> ConsumerConfig:
    """An explicit-ack durable consumer that starts from the first message."""
    # With a name, the consumer is created through the subject that carries
    # its filter, which the server checks: a node's permissions can then pin
    # its consumer to its own job subject.
    return ConsumerConfig(
        name=durable,
        durable_name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=ack_wait_s,
        max_deliver=max_deliver,
        max_ack_pending=max_ack_pending,
        filter_subject=filter_subject,
    )


async def settle(action) -> None:
    """Ack, nak or term a message; a lost connection only costs a redelivery."""
    try:
        await asyncio.shield(action)
    except (nats.errors.Error, APIError) as error:
        logger.warning("could not settle a message: %s", error)
