"""The OpenAPI 3.1 document, generated from the route table.

Every route's method, path, parameters, request body and responses come from
its `Doc` in web/routes.py; the schemas from web/api_schemas.py. A route
that needs the token (when API_TOKEN is set) gets the bearer and query-token
security schemes and a 401; one that talks to NATS gets a 503.
"""

import re
from collections.abc import Iterable
from typing import Any, Protocol

from aiohttp import web

from web.api_doc import Doc, error_reply
from web.api_schemas import SCHEMAS
from web.keys import OPENAPI

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")

SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The API_TOKEN the service was started with.",
    },
    "accessToken": {
        "type": "apiKey",
        "in": "query",
        "name": "access_token",
        "description": "The same token in the query string (EventSource, media).",
    },
}
# Either scheme, or none at all when the service runs without a token.
SECURED = [{"bearer": []}, {"accessToken": []}, {}]


class Documented(Protocol):
    """A route table entry: where it is and how it is described."""

    method: str
    path: str
    doc: Doc


def openapi_path(path: str) -> str:
    """An aiohttp path template as OpenAPI writes it: `{name:regex}` -> `{name}`."""
    return _PARAM.sub(r"{\1}", path)


def operation_id(method: str, path: str) -> str:
    """A unique, readable id such as `get_api_v1_tasks_id_input`."""
    words = re.findall(r"[A-Za-z0-9]+", openapi_path(path))
    return "_".join([method.lower(), *words]) if words else f"{method.lower()}_root"


def operation(method: str, path: str, doc: Doc) -> dict[str, Any]:
    """One operation object."""
    responses = dict(doc.responses)
    if not doc.public:
        responses.setdefault("401", error_reply(401))
    if doc.uses_bus:
        responses.setdefault("503", error_reply(503))
    body: dict[str, Any] = {
        "operationId": operation_id(method, path),
        "summary": doc.summary,
        "tags": [doc.tag],
        "responses": dict(sorted(responses.items())),
        "security": [] if doc.public else SECURED,
    }
    if doc.description:
        body["description"] = doc.description
    if doc.parameters:
        body["parameters"] = list(doc.parameters)
    if doc.body is not None:
        body["requestBody"] = doc.body
    return body


def build_document(routes: Iterable[Documented]) -> dict[str, Any]:
    """The whole OpenAPI document for these routes."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        entry = paths.setdefault(openapi_path(route.path), {})
        method = route.method.lower()
        if method in entry:
            raise ValueError(f"{route.method} {route.path} is in the table twice")
        entry[method] = operation(route.method, route.path, route.doc)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Offload: edge/cloud task offloading",
            "version": API_VERSION,
            "description": (
                "Upload photos and videos, schedule an operation on each, and "
                "follow where and how fast every task ran."
            ),
        },
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }


async def openapi_document(request: web.Request) -> web.Response:
    """GET /api/v1/openapi.json: this document."""
    return web.json_response(request.app[OPENAPI])
