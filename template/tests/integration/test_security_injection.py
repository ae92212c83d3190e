"""The SQL-injection probes of tests/test_security_injection.py on real PostgreSQL.

PostgreSQL refuses what SQLite stores: NUL bytes in text and integers beyond a column's
range are errors there (the classic 500s), so the probes must be caught before the
database on this server too. Reads go through the streaming replica as in production.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from app.settings import Settings
from tests.conftest import Login
from tests.integration.postgres_app import fresh_pair, pair_settings
from tests.test_security_injection import PAYLOADS, PROBES, run_probes

DATABASE = "app_it_security"


@pytest.fixture(scope="module")
def pair() -> tuple[str, str]:
    return fresh_pair(DATABASE)


@pytest.fixture
def settings(pair: tuple[str, str]) -> Settings:
    """The shared ``app`` and ``client`` fixtures (tests/conftest.py), on this pair."""
    return pair_settings(pair)


async def test_injection_probes_never_get_a_5xx_on_postgresql(
    app: FastAPI, client: httpx.AsyncClient, login: Login
) -> None:
    sent = await run_probes(app, client, login)
    assert sent == len(PROBES) * len(PAYLOADS)


@pytest.mark.parametrize("item_id", ["99999999999", "2147483648", "9223372036854775807"])
async def test_ids_beyond_int32_are_404_not_500(client: httpx.AsyncClient, item_id: str) -> None:
    response = await client.get(f"/api/v1/items/{item_id}")
    assert response.status_code == 404


async def test_ids_beyond_the_id_column_are_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/items/9223372036854775808")
    assert response.status_code == 422
    assert "less than or equal to 9223372036854775807" in response.text


async def test_a_cursor_outside_the_utc_range_is_400_on_postgresql(
    client: httpx.AsyncClient,
) -> None:
    # ["0001-01-01T00:00:00+14:00",5]: year 0 in UTC, which a timestamp cannot carry.
    cursor = "WyIwMDAxLTAxLTAxVDAwOjAwOjAwKzE0OjAwIiw1XQ"
    response = await client.get("/api/v1/items", params={"cursor": cursor})
    assert response.status_code == 400
    assert "Invalid cursor" in response.json()["detail"]
