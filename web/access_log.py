"""Access log lines that never show the API token of a query string."""

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from web.auth import QUERY_TOKEN

REDACTED = "[redacted]"


def loggable_target(request: web.BaseRequest) -> str:
    """The path and query of a request with any access token hidden."""
    url = request.rel_url
    if QUERY_TOKEN in url.query:
        url = url.update_query({QUERY_TOKEN: REDACTED})
    return str(url)


class RedactingAccessLogger(AbstractAccessLogger):
    """One line per request: client, request line, status, size, seconds."""

    def log(
        self, request: web.BaseRequest, response: web.StreamResponse, time: float
    ) -> None:
        """Write the line for one answered request."""
        self.logger.info(
            '%s "%s %s HTTP/%d.%d" %d %s %.3fs',
            request.remote,
            request.method,
            loggable_target(request),
            request.version.major,
            request.version.minor,
            response.status,
            response.body_length,
            time,
        )
