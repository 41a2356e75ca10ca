"""JetStream publishes that go out at once, in order, each with a future for its ack.

nats-py's own `publish_async` (2.16) raises the server's error inside its
reply handler instead of setting it on the future, so a refused publish
(a stream at its byte limit, say) leaves the caller waiting forever. This
publisher resolves every future: with the ack, or with the server's error.
"""

import asyncio
import json
import logging
import weakref

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api
from nats.js.errors import (
    APIError,
    BadRequestError,
    NoStreamResponseError,
    NotFoundError,
    ServerError,
    ServiceUnavailableError,
)

logger = logging.getLogger(__name__)

_ERRORS_BY_CODE: dict[int, type[APIError]] = {
    400: BadRequestError,
    404: NotFoundError,
    500: ServerError,
    503: ServiceUnavailableError,
}
_PUBLISHERS: "weakref.WeakKeyDictionary[Client, AckedPublisher]" = (
    weakref.WeakKeyDictionary()
)


def api_error(error: dict) -> APIError:
    """The client's exception for an error a JetStream reply carries."""
    known = {k: error.get(k) for k in ("code", "err_code", "description")}
    return _ERRORS_BY_CODE.get(error.get("code") or 0, APIError)(**known)


class AckedPublisher:
    """Publishes on one connection; every publish returns a future for its ack."""

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._prefix = ""
        self._subscription: Subscription | None = None
        self._waiting: dict[str, asyncio.Future[api.PubAck]] = {}
        self._next = 0

    @classmethod
    def of(cls, nc: Client) -> "AckedPublisher":
        """The connection's publisher (one reply subscription per connection)."""
        publisher = _PUBLISHERS.get(nc)
        if publisher is None:
            publisher = _PUBLISHERS[nc] = cls(nc)
        return publisher

    async def publish(
        self, subject: str, payload: bytes, headers: dict[str, str] | None = None
    ) -> asyncio.Future[api.PubAck]:
        """Send now; the future holds the ack or raises the server's error.

        Publishes made one after another from one coroutine reach the stream
        in that order. The caller bounds its wait on the future.
        """
        if self._subscription is None:
            self._prefix = self._nc.new_inbox() + "."
            self._subscription = await self._nc.subscribe(
                self._prefix + "*", cb=self._answered
            )
        self._next += 1
        token = str(self._next)
        future: asyncio.Future[api.PubAck] = asyncio.get_running_loop().create_future()
        self._waiting[token] = future
        future.add_done_callback(lambda _: self._waiting.pop(token, None))
        try:
            await self._nc.publish(
                subject, payload, reply=self._prefix + token, headers=headers
            )
        except BaseException:
            future.cancel()
            raise
        return future

    async def _answered(self, msg: Msg) -> None:
        future = self._waiting.get(msg.subject[len(self._prefix) :])
        if future is None or future.done():
            return
        status = msg.headers.get("Status") if msg.headers else None
        if status == "503" and not msg.data:
            future.set_exception(NoStreamResponseError())
            return
        try:
            answer = json.loads(msg.data)
        except ValueError:
            future.set_exception(APIError(description="unreadable publish ack"))
            return
        if "error" in answer:
            future.set_exception(api_error(answer["error"]))
        else:
            future.set_result(api.PubAck.from_response(answer))
