"""Reading a server-sent event stream (text/event-stream) line by line."""

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerEvent:
    """One dispatched event: its type, its data lines joined, its id."""

    type: str
    data: str
    id: str | None = None


class EventParser:
    """Builds events from lines, as the HTML standard's event-stream rules say."""

    def __init__(self) -> None:
        self._type = ""
        self._data: list[str] = []
        self.last_id: str | None = None

    def feed(self, line: str) -> ServerEvent | None:
        """Take one line (without its end); a blank line dispatches an event."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment, such as the keep-alive
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._type = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_id = value
        # Other fields (retry, unknown names) change nothing we use.
        return None

    def _dispatch(self) -> ServerEvent | None:
        event = None
        if self._data:
            data = "\n".join(self._data)
            event = ServerEvent(self._type or "message", data, self.last_id)
        self._type, self._data = "", []
        return event


async def read_events(response: aiohttp.ClientResponse) -> AsyncIterator[ServerEvent]:
    """Every event of an open event-stream response, until the server ends it."""
    parser = EventParser()
    async for raw in response.content:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        event = parser.feed(line)
        if event is not None:
            logger.debug("event %s (%d bytes)", event.type, len(event.data))
            yield event
