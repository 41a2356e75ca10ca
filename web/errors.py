"""JSON errors: one exception for refusals and a middleware that answers them all."""

import logging
from collections.abc import Awaitable, Callable, Mapping

import nats.errors
from aiohttp import web

from bus.errors import ConflictingUpdate, FileMissing, TaskNotFound
from media import InvalidOperation, UnsupportedMedia

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A request the service refuses; the middleware answers it as JSON."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        close_connection: bool = False,
        headers: Mapping[str, str] | None = None,
        **extra: object,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.close_connection = close_connection
        self.headers = dict(headers or {})
        self.extra = extra


def json_error(
    status: int, message: str, field: str | None = None, **extra: object
) -> web.Response:
    """A JSON error response: a readable sentence, the field at fault, details."""
    body = {"error": message, "field": field, **extra}
    return web.json_response(body, status=status)


def error_response(error: Exception, request: web.Request) -> web.Response | None:
    """The JSON answer for an error we expect, or None for an unexpected one."""
    if isinstance(error, ApiError):
        response = json_error(error.status, error.message, error.field, **error.extra)
        response.headers.update(error.headers)
        if error.close_connection:
            # Whatever the client still sends is not worth reading.
            response.force_close()
        return response
    if isinstance(error, InvalidOperation):
        return json_error(400, str(error), error.field, valid=error.valid)
    if isinstance(error, UnsupportedMedia):
        return json_error(415, str(error), "files", supported=error.supported)
    if isinstance(error, TaskNotFound):
        return json_error(404, str(error), "id")
    if isinstance(error, FileMissing):
        return json_error(404, str(error), "version")
    if isinstance(error, ConflictingUpdate):
        return json_error(409, str(error), "id")
    if isinstance(error, ConnectionResetError):
        # The client is gone; this answer is for the access log only.
        logger.info("client went away during %s %s", request.method, request.path)
        return json_error(400, "the connection closed before the request was read")
    if isinstance(error, nats.errors.Error | TimeoutError):
        logger.warning(
            "%s %s: message bus error: %r", request.method, request.path, error
        )
        return json_error(503, "the message bus is not answering; try again shortly")
    return None


def http_error_response(error: web.HTTPException, request: web.Request) -> web.Response:
    """An aiohttp HTTP error (unknown route, wrong method, ...) as JSON."""
    if isinstance(error, web.HTTPNotFound):
        message = f"nothing here: {request.method} {request.path}"
        return json_error(404, message)
    if isinstance(error, web.HTTPMethodNotAllowed):
        allowed = sorted(error.allowed_methods)
        message = (
            f"{request.method} is not allowed on {request.path}; "
            f"use {' or '.join(allowed)}"
        )
        response = json_error(405, message, allowed=allowed)
        response.headers["Allow"] = ",".join(allowed)
        return response
    return json_error(error.status, error.text or error.reason)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Answer every error as JSON; log and hide the unexpected ones."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return http_error_response(error, request)
    except Exception as error:
        response = error_response(error, request)
        if response is not None:
            return response
        logger.exception("unexpected error in %s %s", request.method, request.path)
        return json_error(500, "the server failed unexpectedly; the error is logged")
