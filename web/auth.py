"""Optional bearer-token authentication for the API and the page's data.

With API_TOKEN set, every request needs `Authorization: Bearer <token>` or
`?access_token=<token>` (for an EventSource or a media URL, which cannot send
headers), except the routes marked public: liveness and the page's own files,
which carry no data and let the page load before it knows the token.
"""

import hmac
import logging

from aiohttp import hdrs, web

from web.errors import ApiError, Handler
from web.keys import PUBLIC, SETTINGS
from web.settings import WebSettings

logger = logging.getLogger(__name__)

QUERY_TOKEN = "access_token"
CHALLENGE = 'Bearer realm="offload"'


def presented_token(request: web.Request) -> str | None:
    """The token the request carries: the Authorization header, else the query."""
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(
                401,
                "the Authorization header must be 'Bearer <token>'",
                field="Authorization",
                headers={
                    hdrs.WWW_AUTHENTICATE: f'{CHALLENGE}, error="invalid_request"'
                },
            )
        return value.strip()
    return request.query.get(QUERY_TOKEN)


def token_matches(presented: str, expected: str) -> bool:
    """Compare in constant time, so the answer's timing reveals nothing."""
    return hmac.compare_digest(presented.encode(), expected.encode())


def is_public(request: web.Request) -> bool:
    """Whether the matched route is served without a token."""
    return request.match_info.route.resource in request.app[PUBLIC]


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a request without the right token with a 401, when a token is set."""
    expected = request.app[SETTINGS].api_token
    if expected is None or is_public(request):
        return await handler(request)

    presented = presented_token(request)
    if presented is None:
        raise ApiError(
            401,
            "this API needs a token: send 'Authorization: Bearer <token>' "
            f"or ?{QUERY_TOKEN}=<token>",
            headers={hdrs.WWW_AUTHENTICATE: CHALLENGE},
        )
    if not token_matches(presented, expected):
        logger.info("refused a wrong token for %s %s", request.method, request.path)
        raise ApiError(
            401,
            "the token is not valid",
            headers={hdrs.WWW_AUTHENTICATE: f'{CHALLENGE}, error="invalid_token"'},
        )
    return await handler(request)


def warn_if_open(settings: WebSettings) -> None:
    """Say loudly at start-up that anyone who can reach the service may use it."""
    if settings.api_token is None:
        logger.warning(
            "API_TOKEN is not set: the API on %s:%d is open to anyone who can "
            "reach it; set API_TOKEN to require a bearer token",
            settings.host,
            settings.port,
        )
