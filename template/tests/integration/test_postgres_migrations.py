from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import migrate


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
