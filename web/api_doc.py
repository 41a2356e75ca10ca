"""How one route is described in the OpenAPI document, with small builders.

Every entry of the route table (web/routes.py) carries a `Doc`; the document
is generated from that table, so a route cannot exist undocumented.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

JSON = "application/json"
Schema = dict[str, Any]

STATUS_TEXT = {
    400: "The request is malformed or a value is not valid",
    401: "No token or a wrong one (only when API_TOKEN is set)",
    404: "No such task or file",
    405: "Method not allowed",
    409: "The task's status does not allow this",
    413: "A file or the whole request is larger than allowed",
    415: "A file's type is not supported",
    416: "The byte range cannot be served from this file",
    503: "The message bus is not answering",
    507: "The file store has no room for the upload; nothing was kept",
}


@dataclass(frozen=True)
class Doc:
    """What the OpenAPI document says about one route."""

    summary: str
    tag: str
    responses: Mapping[str, dict[str, Any]]
    parameters: tuple[dict[str, Any], ...] = ()
    body: dict[str, Any] | None = None
    public: bool = False
    """Served without the API token (liveness, the page and its files)."""
    uses_bus: bool = True
    """Answers 503 when NATS does not."""
    description: str = ""


def ref(name: str) -> Schema:
    """A reference to a schema among the document's components."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    """The schema, or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def path_param(name: str, description: str) -> dict[str, Any]:
    """A required path parameter holding text."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1},
    }


def query_param(name: str, description: str, schema: Schema) -> dict[str, Any]:
    """An optional query parameter."""
    return {"name": name, "in": "query", "description": description, "schema": schema}


def header_param(name: str, description: str, schema: Schema) -> dict[str, Any]:
    """An optional request header."""
    return {"name": name, "in": "header", "description": description, "schema": schema}


def json_reply(description: str, schema: Schema) -> dict[str, Any]:
    """A JSON response."""
    return {"description": description, "content": {JSON: {"schema": schema}}}


def error_reply(status: int) -> dict[str, Any]:
    """The JSON error response for a status."""
    return json_reply(STATUS_TEXT[status], ref("Error"))


def replies(ok: Mapping[str, dict[str, Any]], *errors: int) -> dict[str, Any]:
    """Success responses plus the JSON errors for the given statuses."""
    return {**ok, **{str(status): error_reply(status) for status in errors}}


def multipart_body(schema: Schema, description: str) -> dict[str, Any]:
    """A required multipart/form-data request body."""
    return {
        "required": True,
        "description": description,
        "content": {"multipart/form-data": {"schema": schema}},
    }
