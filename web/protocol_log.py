"""One short line, not a traceback, for a request aiohttp cannot parse.

aiohttp logs every malformed request (a header line over its limit, a broken
request line) at ERROR with the parser's traceback. Those come from clients,
not from bugs here, and a client sending them in a loop would fill the log.
The filter turns each into a one-line warning naming the client and what was
wrong; every other record of `aiohttp.server` passes unchanged.
"""

import logging

from aiohttp.http_exceptions import HttpProcessingError

SERVER_LOGGER = "aiohttp.server"


class MalformedRequestFilter(logging.Filter):
    """Rewrites records about unparseable requests; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, HttpProcessingError):
            return True
        client = (
            record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        )
        record.msg = "refused a malformed request from %s: %s %s"
        record.args = (client, error.code, _first_line(error.message))
        record.exc_info = None
        record.exc_text = None
        record.levelno = logging.WARNING
        record.levelname = logging.getLevelName(logging.WARNING)
        return True


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0][:200] if text else ""


def install() -> None:
    """Put the filter on aiohttp's server logger (once)."""
    server = logging.getLogger(SERVER_LOGGER)
    if not any(isinstance(f, MalformedRequestFilter) for f in server.filters):
        server.addFilter(MalformedRequestFilter())
