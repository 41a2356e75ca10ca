"""The OpenAPI document: it covers exactly the registered routes, and is valid."""

import re

import schemathesis
from aiohttp import web

from web.app import create_app
from web.keys import OPENAPI
from web.settings import WebSettings

DOCUMENTED_METHODS = {"get", "post", "put", "patch", "delete"}


def registered_operations(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every route the router answers, HEAD aside."""
    found = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info()
        path = info.get("path") or info["formatter"]
        found.add((route.method, re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)))
    return found


def documented_operations(document: dict) -> set[tuple[str, str]]:
    """(method, path) of every operation in the document."""
    return {
        (method.upper(), path)
        for path, entry in document["paths"].items()
        for method in entry
        if method in DOCUMENTED_METHODS
    }


def test_every_registered_route_is_documented_and_nothing_else(bus_settings):
    app = create_app(WebSettings(bus=bus_settings))

    registered = registered_operations(app)
    documented = documented_operations(app[OPENAPI])

    assert registered - documented == set(), "routes missing from the document"
    assert documented - registered == set(), "documented routes that do not exist"
    assert len(registered) >= 30


def test_every_path_parameter_is_declared(bus_settings):
    document = create_app(WebSettings(bus=bus_settings))[OPENAPI]

    for path, entry in document["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        for method, operation in entry.items():
            declared = {
                p["name"] for p in operation.get("parameters", []) if p["in"] == "path"
            }
            assert declared == names, f"{method.upper()} {path}"


def test_the_document_is_valid_openapi_and_schemathesis_reads_every_operation(
    bus_settings,
):
    document = create_app(WebSettings(bus=bus_settings))[OPENAPI]

    schema = schemathesis.openapi.from_dict(document)
    operations = [result.ok() for result in schema.get_all_operations()]

    assert len(operations) == len(documented_operations(document))


async def test_the_document_is_served_and_every_secured_operation_says_401(client):
    response = await client.get("/api/v1/openapi.json")

    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.1")
    for path, entry in document["paths"].items():
        for method, operation in entry.items():
            if operation["security"]:
                assert "401" in operation["responses"], f"{method} {path}"
    assert document["paths"]["/healthz"]["get"]["security"] == []
