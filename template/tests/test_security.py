"""CORS off unless configured, and session endpoints answering 503 when their store fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError

from app.settings import Settings
from tests.conftest import PASSWORD, Login, serve

ITEMS = "/api/v1/items"
ALLOWED = "https://app.example.com"


def _preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }


async def test_without_configuration_no_cors_header_is_ever_sent(
    client: httpx.AsyncClient,
) -> None:
    preflight = await client.options(ITEMS, headers=_preflight(ALLOWED))
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.status_code == 405  # no CORS middleware answers the preflight
    simple = await client.get(ITEMS, headers={"Origin": ALLOWED})
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers


@pytest.fixture
async def cors_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    configured = settings.model_copy(
        update={"cors_allow_origins": [ALLOWED, "http://localhost:5173"]}
    )
    async with serve(configured) as (_, client):
        yield client


async def test_a_configured_origin_is_echoed_and_may_send_credentials(
    cors_client: httpx.AsyncClient,
) -> None:
    preflight = await cors_client.options(ITEMS, headers=_preflight(ALLOWED))
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ALLOWED
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    simple = await cors_client.get(ITEMS, headers={"Origin": ALLOWED})
    assert simple.headers["access-control-allow-origin"] == ALLOWED


async def test_browsers_may_send_every_header_the_api_reads_and_read_what_it_answers(
    cors_client: httpx.AsyncClient,
) -> None:
    """Optimistic concurrency (If-Match with the ETag) and read-your-writes
    (X-Read-After-LSN) work from a browser on another origin."""
    preflight = await cors_client.options(
        f"{ITEMS}/1",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization, content-type, if-match, "
            "if-none-match, x-read-after-lsn, x-request-id",
        },
    )
    assert preflight.status_code == 200, preflight.text
    allowed = preflight.headers["access-control-allow-headers"].lower()
    for header in ("if-match", "if-none-match", "x-read-after-lsn", "x-request-id"):
        assert header in allowed
    assert "HEAD" in preflight.headers["access-control-allow-methods"]
    account = {"email": "cors@example.com", "password": PASSWORD}
    assert (await cors_client.post("/api/v1/auth/register", json=account)).status_code == 202
    tokens = (await cors_client.post("/api/v1/auth/login", json=account)).json()
    created = await cors_client.post(
        ITEMS,
        json={"name": "Lamp"},
        headers={"Origin": ALLOWED, "Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert created.status_code == 201
    exposed = {
        name.strip().lower() for name in created.headers["access-control-expose-headers"].split(",")
    }
    assert {"etag", "location", "retry-after", "x-read-after-lsn", "x-request-id"} <= exposed


async def test_an_unlisted_origin_is_not_allowed(cors_client: httpx.AsyncClient) -> None:
    preflight = await cors_client.options(ITEMS, headers=_preflight("https://evil.example"))
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    simple = await cors_client.get(ITEMS, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


async def test_a_wildcard_allows_any_origin_without_credentials(settings: Settings) -> None:
    async with serve(settings.model_copy(update={"cors_allow_origins": ["*"]})) as (_, client):
        preflight = await client.options(ITEMS, headers=_preflight("https://any.example"))
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in preflight.headers


def test_origins_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", " https://a.example , http://localhost:3000 ")
    settings = Settings(_env_file=None)
    assert settings.cors_allow_origins == ["https://a.example", "http://localhost:3000"]
    assert Settings(_env_file=None, **_raw(cors_allow_origins="")).cors_allow_origins == []


def _raw(**values: str) -> dict[str, Any]:
    """Settings values as the environment gives them: strings, parsed by the validators."""
    return values


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("https://a.example/app", "not an origin"),
        ("a.example", "not an origin"),
        ("ftp://a.example", "not an origin"),
        ("https://a.example?x=1", "not an origin"),
        ("https://user@a.example", "not an origin"),
        ("https://a.example:99999", "not an origin"),
        ("https://", "not an origin"),
        ("*,https://a.example", "must stand alone"),
    ],
)
def test_bad_origins_are_refused_with_how_to_fix_them(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as refused:
        Settings(_env_file=None, **_raw(cors_allow_origins=value))
    assert "CORS_ALLOW_ORIGINS" in str(refused.value)


class UnreachableStoreMethods:
    """Patches the app's session store so every call fails like a stopped Redis."""

    @staticmethod
    def install(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
        async def refuse(*_args: object, **_kwargs: object) -> None:
            raise RedisConnectionError(
                "Error 111 connecting to 127.0.0.1:6379. Connection refused."
            )

        store = app.state.resources.store
        for name in ("set", "get", "take", "delete", "swap", "expire"):
            monkeypatch.setattr(store, name, refuse)


async def test_session_endpoints_answer_503_with_retry_after_when_the_store_is_down(
    app: FastAPI, client: httpx.AsyncClient, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = await login("ada@example.com")
    UnreachableStoreMethods.install(app, monkeypatch)
    before = REGISTRY.get_sample_value("session_store_errors_total", {"operation": "login"}) or 0
    credentials = {"email": "ada@example.com", "password": PASSWORD}
    refresh = {"refresh_token": tokens["refresh_token"]}
    for url, body in (
        ("/api/v1/auth/login", credentials),
        ("/api/v1/auth/refresh", refresh),
        ("/api/v1/auth/logout", refresh),
    ):
        response = await client.post(url, json=body)
        assert response.status_code == 503, (url, response.text)
        assert response.headers["Retry-After"] == "5"
        assert "temporarily unavailable" in response.json()["detail"]
    after = REGISTRY.get_sample_value("session_store_errors_total", {"operation": "login"})
    assert after == before + 1
    # Requests with an access token never needed the store.
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
