"""The SQL-injection probes of tests/test_security_injection.py on real PostgreSQL.

PostgreSQL refuses what SQLite stores: NUL bytes in text and integers beyond a column's
range are errors there (the classic 500s), so the probes must be caught before the
database on this server too. Reads go through the streaming replica as in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from app.main import create_app
from tests.conftest import PASSWORD, Login
from tests.integration.postgres_app import fresh_pair, pair_settings
from tests.test_security_injection import PAYLOADS, PROBES, run_probes

DATABASE = "app_it_security"


@pytest.fixture(scope="module")
def pair() -> tuple[str, str]:
    return fresh_pair(DATABASE)


@pytest.fixture
async def pg_app(pair: tuple[str, str]) -> AsyncIterator[FastAPI]:
    application = create_app(pair_settings(pair))
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def pg_client(pg_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=pg_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_injection_probes_never_get_a_5xx_on_postgresql(
    pg_app: FastAPI, pg_client: httpx.AsyncClient
) -> None:
    async def login(email: str) -> dict[str, str]:
        body = {"email": email, "password": PASSWORD}
        registered = await pg_client.post("/api/v1/auth/register", json=body)
        assert registered.status_code == 201, registered.text
        response = await pg_client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 200, response.text
        tokens: dict[str, str] = response.json()
        return tokens

    login_: Login = login
    sent = await run_probes(pg_app, pg_client, login_)
    assert sent == len(PROBES) * len(PAYLOADS)


@pytest.mark.parametrize("item_id", ["99999999999", "2147483648", "9223372036854775807"])
async def test_ids_beyond_int32_are_404_not_500(pg_client: httpx.AsyncClient, item_id: str) -> None:
    response = await pg_client.get(f"/api/v1/items/{item_id}")
    assert response.status_code == 404


async def test_ids_beyond_the_id_column_are_422(pg_client: httpx.AsyncClient) -> None:
    response = await pg_client.get("/api/v1/items/9223372036854775808")
    assert response.status_code == 422
    assert "less than or equal to 9223372036854775807" in response.text
