"""A fresh, migrated PostgreSQL database (primary + replica) for one test module.

Security and fuzz tests each get their own database on the TEST_DATABASE_URL pair, so
whatever hostile input they write never meets another test's data.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.settings import Settings
from tests.conftest import TEST_JWT_SECRET_KEY, migrate
from tests.integration.conftest import require_server


def on_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


async def _recreate(primary_url: str, replica_url: str, database: str) -> None:
    admin = create_async_engine(on_database(primary_url, "postgres"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        await connection.execute(text(f'CREATE DATABASE "{database}"'))
    await admin.dispose()
    replica = create_async_engine(on_database(replica_url, database))
    try:
        for _ in range(100):
            try:
                async with replica.connect():
                    return
            except Exception:  # noqa: BLE001 - not replayed on the replica yet
                await asyncio.sleep(0.1)
        raise AssertionError(f"{database} never appeared on the replica")
    finally:
        await replica.dispose()


def fresh_pair(database: str) -> tuple[str, str]:
    """(primary URL, replica URL) of ``database``, dropped, created and migrated."""
    primary = require_server("TEST_DATABASE_URL")
    replica = require_server("TEST_DATABASE_READ_URLS").split(",")[0].strip()
    asyncio.run(_recreate(primary, replica, database))
    primary_url = on_database(primary, database)
    migrate(primary_url)
    return primary_url, on_database(replica, database)


def pair_settings(pair: tuple[str, str], **overrides: Any) -> Settings:
    primary, replica = pair
    values: dict[str, Any] = {
        "database_url": primary,
        "database_read_urls": [replica],
        "jwt_secret_key": SecretStr(TEST_JWT_SECRET_KEY),
        "database_replica_max_lag_seconds": 30.0,
    }
    return Settings(_env_file=None, **(values | overrides))
