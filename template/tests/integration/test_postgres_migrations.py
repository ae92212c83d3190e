from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.schema import database_revisions, shipped_migrations
from app.settings import Settings
from tests.conftest import SERVICE_ROOT, TEST_JWT_SECRET_KEY, migrate, serve


@pytest.fixture
async def scratch_database_url(postgres_url: str) -> AsyncIterator[str]:
    """A fresh, empty database on the server, dropped afterwards."""
    name = f"migrations_{secrets.token_hex(4)}"
    admin = create_async_engine(postgres_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def test_migrations_apply_and_revert_on_postgresql(scratch_database_url: str) -> None:
    # Alembic's env.py runs its own event loop, so run it in a worker thread.
    import anyio.to_thread  # noqa: PLC0415

    await anyio.to_thread.run_sync(migrate, scratch_database_url)
    engine = create_async_engine(scratch_database_url)
    async with engine.connect() as connection:
        indexes = await connection.run_sync(
            lambda sync: {index["name"] for index in inspect(sync).get_indexes("items")}
        )
    await engine.dispose()
    assert {
        "ix_items_status_created_at_id",
        "ix_items_owner_id_created_at_id",
        "ix_items_owner_id_status_created_at_id",
        "ix_items_status_price_cents",
    } <= indexes

    await anyio.to_thread.run_sync(lambda: migrate(scratch_database_url, "base", downgrade=True))


async def test_two_migrate_commands_started_together_both_succeed_at_head(
    scratch_database_url: str,
) -> None:
    """The ECS case: every new task's `migrate` container starts at once. The advisory
    lock makes one migrate while the other waits and then finds the schema at head."""
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "LOG_"))},
        "DATABASE_URL": scratch_database_url,
        "LOG_JSON": "true",
    }
    runs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.db.migrate",
            cwd=SERVICE_ROOT,
            env=environment,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    outputs = [(await run.communicate())[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    events = [
        str(json.loads(line)["event"])
        for output in outputs
        for line in output.splitlines()
        if line.startswith("{")
    ]
    assert sum("migrated from an empty database" in event for event in events) == 1, events
    assert sum("schema already at head" in event for event in events) == 1, events

    engine = create_async_engine(scratch_database_url)
    async with engine.connect() as connection:
        revisions = await connection.run_sync(database_revisions)
    await engine.dispose()
    assert revisions == shipped_migrations().heads


async def test_readyz_on_postgresql_is_503_until_migrated(scratch_database_url: str) -> None:
    import anyio.to_thread  # noqa: PLC0415

    settings = Settings(
        _env_file=None,
        database_url=scratch_database_url,
        jwt_secret_key=SecretStr(TEST_JWT_SECRET_KEY),
    )
    async with serve(settings) as (_, client):
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert "no Alembic revision" in response.json()["checks"]["schema"]["detail"]
        await anyio.to_thread.run_sync(migrate, scratch_database_url)
        assert (await client.get("/readyz")).status_code == 200
