from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from app.settings import Settings
from tests.conftest import TEST_JWT_SECRET_KEY, serve


async def test_healthz_checks_nothing_but_the_process(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ready_with_a_reachable_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.parametrize(
    "database_url",
    [
        pytest.param("sqlite+aiosqlite:////nonexistent-directory/app.db", id="sqlite-missing-dir"),
        pytest.param("postgresql+asyncpg://nobody@127.0.0.1:1/none", id="postgres-closed-port"),
    ],
)
async def test_readyz_is_503_with_detail_when_the_database_is_unreachable(
    database_url: str,
) -> None:
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        jwt_secret_key=SecretStr(TEST_JWT_SECRET_KEY),
        readiness_timeout_seconds=2,
    )
    async with serve(settings) as (_, client):
        response = await client.get("/readyz")
        liveness = await client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["status"] == "failing"
    assert body["checks"]["database"]["error"]
    assert liveness.status_code == 200, "liveness must not depend on the database"
