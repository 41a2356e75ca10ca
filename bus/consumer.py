"""Pull consumers: bind a durable, fetch in batches, drop malformed messages.

A message that cannot be decoded is logged once with its subject and
terminated, so it is never redelivered and never blocks the messages behind it.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError

from bus.errors import MalformedMessage

logger = logging.getLogger(__name__)

T = TypeVar("T")


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
        self._config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=ack_wait_s,
            max_deliver=max_deliver,
            max_ack_pending=max_ack_pending,
            filter_subject=filter_subject,
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
            # reconnects on its own; the caller simply asks again.
            logger.warning("fetch on %s failed: %s; retrying", self._durable, error)
            await asyncio.sleep(0.5)
            return []
        decoded = [await self._decoded(message) for message in messages]
        return [delivery for delivery in decoded if delivery is not None]

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


async def settle(action) -> None:
    """Ack, nak or term a message; a lost connection only costs a redelivery."""
    try:
        await asyncio.shield(action)
    except (nats.errors.Error, APIError) as error:
        logger.warning("could not settle a message: %s", error)
