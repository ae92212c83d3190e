"""Shared fixtures: a migrated temporary SQLite database and an HTTP client on the app."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.main import create_app
from app.settings import Settings

SERVICE_ROOT = Path(__file__).resolve().parents[1]
TEST_JWT_SECRET_KEY = "test-jwt-secret-key-" + "0123456789abcdef" * 4  # 84 bytes: fine for HS512
PASSWORD = "correct horse battery staple"
# A bound on a stuck start or stop of a test app, not a speed target: asgi-lifespan's
# default of 5 s once cut short a clean shutdown (the in-process worker and relay stopping,
# pools closing) on a 2-core machine at load 10; at load 4 it takes up to about 1 s.
LIFESPAN_TIMEOUT_SECONDS = 60


def migrate(database_url: str, revision: str = "head", *, downgrade: bool = False) -> None:
    """Run Alembic like `alembic upgrade head` does, on ``database_url``."""
    config = Config(SERVICE_ROOT / "alembic.ini")
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    if downgrade:
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database migrated per session; each test gets a copy (faster than migrating)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def settings(migrated_database: Path, tmp_path: Path) -> Settings:
    database = tmp_path / "test.db"
    shutil.copyfile(migrated_database, database)
    return Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{database}",
        jwt_secret_key=SecretStr(TEST_JWT_SECRET_KEY),
        # Tests sign up many users from one address; tests/test_rate_limit.py sets its own.
        registration_attempts_per_window=0,
        registration_network_attempts_per_window=0,
    )


@asynccontextmanager
async def serve(
    settings: Settings,
    *,
    peer: tuple[str, int] = ("127.0.0.1", 123),
    base_url: str = "http://testserver",
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app built from ``settings``, started and stopped as the server does (lifespan),
    and a client that calls it in-process from the TCP address ``peer``.

    Every test app starts here: the ``app`` and ``client`` fixtures for the default
    settings, ``serve(settings.model_copy(update={...}))`` for any other.
    """
    application = create_app(settings)
    async with LifespanManager(
        application,
        startup_timeout=LIFESPAN_TIMEOUT_SECONDS,
        shutdown_timeout=LIFESPAN_TIMEOUT_SECONDS,
    ):
        transport = httpx.ASGITransport(app=application, client=peer)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield application, client


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with serve(settings) as app_and_client:
        yield app_and_client


@pytest.fixture
def app(served: tuple[FastAPI, httpx.AsyncClient]) -> FastAPI:
    return served[0]


@pytest.fixture
def client(served: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return served[1]


Login = Callable[[str], Awaitable[dict[str, str]]]


@pytest.fixture
def login(client: httpx.AsyncClient) -> Login:
    """Register ``email`` (password PASSWORD) and return its token pair."""

    async def register_and_login(email: str) -> dict[str, str]:
        registered = await client.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert registered.status_code == 202, registered.text
        response = await client.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        tokens: dict[str, str] = response.json()
        return tokens

    return register_and_login


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


# Background job statements (the in-app outbox relay polls on the request engine) are not
# a request's own and are never recorded.
BACKGROUND_TABLES = ("outbox", "processed_jobs")


@contextmanager
def recorded_statements(engine: AsyncEngine, containing: str = "") -> Iterator[list[str]]:
    """The SQL statements ``engine`` sends for requests while the block runs, optionally
    only those containing ``containing``."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if containing in statement and not any(t in statement for t in BACKGROUND_TABLES):
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
