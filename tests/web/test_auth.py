"""Optional bearer-token authentication: off by default, 401 JSON when set."""

import logging

import pytest
from aiohttp.test_utils import make_mocked_request

from web.access_log import loggable_target
from web.settings import WebSettings

TOKEN = "s3cret-Token_123"
GUARDED = [
    ("GET", "/api/v1/tasks"),
    ("GET", "/api/v1/stats"),
    ("GET", "/api/v1/nodes"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/metrics"),
    ("GET", "/readyz"),
    ("GET", "/files"),
    ("GET", "/computed_at_count"),
    ("POST", "/upload"),
    ("DELETE", "/delete-all"),
    ("GET", "/no/such/route"),
]


@pytest.fixture
async def guarded(make_client):
    """A client for an app started with API_TOKEN set."""
    return await make_client(api_token=TOKEN)


@pytest.mark.parametrize(("method", "path"), GUARDED)
async def test_without_a_token_every_api_route_is_a_401_json(guarded, method, path):
    response = await guarded.request(method, path)

    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" in (await response.json())["error"]


async def test_the_bearer_header_or_the_query_token_lets_a_request_in(guarded):
    header = await guarded.get(
        "/api/v1/tasks", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    lower_case_scheme = await guarded.get(
        "/api/v1/tasks", headers={"Authorization": f"bearer {TOKEN}"}
    )
    query = await guarded.get(f"/api/v1/tasks?access_token={TOKEN}")
    stream = await guarded.get(f"/api/v1/events?access_token={TOKEN}")

    assert header.status == lower_case_scheme.status == query.status == 200
    assert stream.status == 200
    stream.close()


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
    ],
)
async def test_a_wrong_token_or_scheme_is_a_401(guarded, headers):
    response = await guarded.get("/api/v1/tasks", headers=headers)

    assert response.status == 401
    assert "invalid" in response.headers["WWW-Authenticate"]
    assert (await response.json())["error"]


async def test_a_wrong_query_token_is_refused_even_beside_no_header(guarded):
    response = await guarded.get("/api/v1/tasks?access_token=guess")

    assert response.status == 401


async def test_liveness_and_the_page_need_no_token(guarded):
    health = await guarded.get("/healthz")
    page = await guarded.get(f"/?token={TOKEN}")
    style = await guarded.get("/static/style.css")

    assert health.status == page.status == style.status == 200


async def test_without_api_token_the_api_is_open_and_start_up_warns(
    make_client, caplog
):
    with caplog.at_level(logging.WARNING, logger="web.auth"):
        client = await make_client()

    assert (await client.get("/api/v1/tasks")).status == 200
    assert "API_TOKEN is not set" in caplog.text


async def test_with_api_token_start_up_does_not_warn(make_client, caplog):
    with caplog.at_level(logging.WARNING, logger="web.auth"):
        await make_client(api_token=TOKEN)

    assert "API_TOKEN is not set" not in caplog.text


def test_the_token_comes_from_api_token_and_never_shows_in_repr(monkeypatch):
    monkeypatch.setenv("API_TOKEN", TOKEN)

    settings = WebSettings.from_env()

    assert settings.api_token == TOKEN
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize("token", ["has space", "tab\there", "naïve"])
def test_a_token_unfit_for_a_header_is_a_start_up_error(token):
    with pytest.raises(ValueError, match="API_TOKEN"):
        WebSettings(api_token=token)


def test_the_access_log_hides_a_query_token():
    request = make_mocked_request("GET", f"/api/v1/events?access_token={TOKEN}&x=1")

    logged = loggable_target(request)

    assert TOKEN not in logged
    assert "x=1" in logged
    assert logged.startswith("/api/v1/events?")
