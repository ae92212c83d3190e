"""What production exposes: trusted hosts, security headers, /metrics on its own port, and
the API documentation (off in production unless enabled)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError

from app.main import create_app
from app.settings import Settings
from tests.conftest import TEST_JWT_SECRET_KEY, Login, bearer, serve

ITEMS = "/api/v1/items"
METRICS_PORT = 9100
PRODUCTION = {
    "environment": "production",
    "database_url": "postgresql+asyncpg://app@127.0.0.1:1/app",  # never connected here
    "metrics_port": METRICS_PORT,
    "allowed_hosts": ["api.example.com"],
}


def production(**changes: Any) -> Settings:
    key = SecretStr(TEST_JWT_SECRET_KEY)
    return Settings(_env_file=None, jwt_secret_key=key, **{**PRODUCTION, **changes})


async def _get(app: Any, url: str, **kwargs: Any) -> httpx.Response:
    """One request to ``app`` without its lifespan (nothing here needs the database)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        return await client.get(url, **kwargs)


# --- API documentation --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
async def test_api_docs_are_off_in_production_unless_enabled(path: str) -> None:
    host = "http://api.example.com"
    assert (await _get(create_app(production()), host + path)).status_code == 404
    enabled = create_app(production(api_docs_enabled=True))
    assert (await _get(enabled, host + path)).status_code == 200
    landing = await _get(create_app(production()), host + "/")
    assert 'href="/docs"' not in landing.text  # no link to a page that is not there


async def test_api_docs_are_on_in_development(client: httpx.AsyncClient) -> None:
    assert (await client.get("/openapi.json")).status_code == 200
    assert 'href="/docs"' in (await client.get("/")).text


# --- /metrics on its own port -------------------------------------------------------


async def test_metrics_are_not_a_route_of_the_app_when_metrics_port_is_set() -> None:
    # `python -m app.server` serves them on METRICS_PORT (tests/test_server.py).
    public = await _get(create_app(production()), "http://api.example.com/metrics")
    assert public.status_code == 404


async def test_production_never_serves_metrics_on_the_public_port() -> None:
    # Without METRICS_PORT (the worker, migrations, a misconfigured task): no /metrics at all.
    without = await _get(create_app(production(metrics_port=0)), "http://api.example.com/metrics")
    assert without.status_code == 404
    with pytest.raises(ValidationError, match="METRICS_PORT=8000 is PORT"):
        Settings(_env_file=None, metrics_port=8000)


# --- trusted hosts ------------------------------------------------------------------


@pytest.fixture
async def hosts_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    allowed = settings.model_copy(update={"allowed_hosts": ["api.example.com", "*.example.org"]})
    async with serve(allowed, base_url="http://api.example.com") as served:
        yield served


async def test_a_foreign_host_header_gets_400(
    hosts_app: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = hosts_app
    assert (await client.get(ITEMS)).status_code == 200
    assert (await client.get(ITEMS, headers={"Host": "API.example.com:443"})).status_code == 200
    assert (await client.get(ITEMS, headers={"Host": "eu.example.org"})).status_code == 200
    for foreign in ["evil.example", "example.org", "api.example.com.evil.example", ""]:
        refused = await client.get(ITEMS, headers={"Host": foreign})
        assert refused.status_code == 400, foreign
        assert "ALLOWED_HOSTS" in refused.json()["detail"]
        assert refused.headers["X-Content-Type-Options"] == "nosniff"
    # Load balancers check health with the target's own address as Host.
    assert (await client.get("/readyz", headers={"Host": "10.0.1.23:8000"})).status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        # The name before the first ':' is allowed, but the rest is no port: a URL parser
        # downstream (a redirect, a link) would read evil.com as the host.
        "api.example.com:@evil.example",
        "api.example.com:80@evil.example",
        "user@api.example.com",
        "evil@eu.example.org",
        "api.example.com:443:443",
        "api.example.com:http",
        "[::1",
        "api.example.com/path",
    ],
)
async def test_a_host_header_that_is_not_host_and_port_gets_400(
    hosts_app: tuple[FastAPI, httpx.AsyncClient], host: str
) -> None:
    _, client = hosts_app
    refused = await client.get(ITEMS, headers={"Host": host})
    assert refused.status_code == 400
    assert "ALLOWED_HOSTS" in refused.json()["detail"]


async def test_ipv6_hosts_are_matched_without_their_brackets(settings: Settings) -> None:
    allowed = settings.model_copy(update={"allowed_hosts": ["::1"]})
    async with serve(allowed, base_url="http://[::1]:8000") as (_, client):
        assert (await client.get(ITEMS)).status_code == 200
        assert (await client.get(ITEMS, headers={"Host": "[::2]:8000"})).status_code == 400


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("https://api.example.com", "not a host name"),
        ("api.example.com:443", "not a host name"),
        ("api.example.com/path", "not a host name"),
        ("*,api.example.com", "must stand alone"),
        ("", "is empty"),
    ],
)
def test_allowed_hosts_are_checked_at_start(value: str, message: str) -> None:
    environment: dict[str, Any] = {"allowed_hosts": value}  # as the variable arrives
    with pytest.raises(ValidationError, match=message):
        Settings(_env_file=None, **environment)


def test_production_refuses_any_host() -> None:
    with pytest.raises(ValidationError, match="refuses ALLOWED_HOSTS='\\*'"):
        production(allowed_hosts="*")


async def test_location_is_never_built_from_the_host_header(
    client: httpx.AsyncClient, login: Login
) -> None:
    tokens = bearer(await login("ada@example.com"))
    created = await client.post(
        ITEMS, json={"name": "Desk"}, headers={**tokens, "Host": "evil.example"}
    )
    assert created.status_code == 201
    assert created.headers["Location"] == f"{ITEMS}/{created.json()['id']}"


@pytest.mark.parametrize(
    ("path", "location"),
    [
        (f"{ITEMS}/", ITEMS),
        (f"{ITEMS}//?limit=5&min_price_cents=1", f"{ITEMS}?limit=5&min_price_cents=1"),
        ("/healthz/", "/healthz"),
    ],
)
async def test_trailing_slash_redirects_are_relative_and_name_no_host(
    client: httpx.AsyncClient, path: str, location: str
) -> None:
    redirected = await client.get(path, headers={"Host": "evil.example"})
    assert redirected.status_code == 307
    # A path: the client keeps its own scheme (https at the CDN) and host.
    assert redirected.headers["Location"] == location
    followed = await client.get(location)
    assert followed.status_code == 200


@pytest.mark.parametrize("path", ["/nowhere/", "//evil.example/", "///", f"{ITEMS}/1/x/"])
async def test_paths_without_a_slash_twin_are_404_never_a_redirect(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(f"http://testserver{path}")  # "//x" as a path, not a host
    assert response.status_code == 404
    assert "Location" not in response.headers


# --- security headers ---------------------------------------------------------------


async def test_api_answers_carry_a_strict_policy_and_no_hsts_over_plain_http(
    client: httpx.AsyncClient,
) -> None:
    for response in [await client.get(ITEMS), await client.get(f"{ITEMS}/999")]:
        assert response.headers["Content-Security-Policy"] == (
            "default-src 'none'; frame-ancestors 'none'"
        )
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "Strict-Transport-Security" not in response.headers


async def test_an_unhandled_error_answers_500_with_the_request_id_and_security_headers(
    app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    async def fail() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/fails", fail)
    response = await client.get("/fails", headers={"X-Request-ID": "report-me-42"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "report-me-42"
    assert (
        response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "report-me-42" in response.json()["detail"]
    assert "a bug" not in response.text  # the error stays in the log
    logged = [r for r in caplog.records if r.name == "app.http.server_errors"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert "a bug" in str(logged[0].exc_info[1])


async def test_pages_may_load_the_static_assets_and_nothing_else(
    client: httpx.AsyncClient,
) -> None:
    policy = (await client.get("/")).headers["Content-Security-Policy"]
    assert "style-src 'self'" in policy
    assert "script-src" not in policy
    assert "frame-ancestors 'none'" in policy
    docs = (await client.get("/docs")).headers["Content-Security-Policy"]
    assert "https://cdn.jsdelivr.net" in docs


async def test_hsts_over_https_and_always_in_production(settings: Settings) -> None:
    async with serve(settings, base_url="https://testserver") as (_, client):
        hsts = (await client.get(ITEMS)).headers["Strict-Transport-Security"]
        assert hsts == "max-age=31536000"
    behind_tls = await _get(create_app(production()), "http://api.example.com/healthz")
    assert behind_tls.headers["Strict-Transport-Security"] == "max-age=31536000"
    off = await _get(create_app(production(hsts_max_age_seconds=0)), "http://api.example.com/")
    assert "Strict-Transport-Security" not in off.headers
