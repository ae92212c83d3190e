from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.models import Base
from tests.conftest import migrate


async def test_migrations_match_the_models(migrated_database: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{migrated_database}")

    def diff(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
        indexes = await connection.run_sync(
            lambda sync: {index["name"] for index in inspect(sync).get_indexes("items")}
        )
    await engine.dispose()
    assert differences == []
    assert {
        "ix_items_status_created_at_id",
        "ix_items_owner_id_created_at_id",
        "ix_items_owner_id_status_created_at_id",
        "ix_items_status_price_cents",
    } <= indexes


def test_migrations_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'roundtrip.db'}"
    migrate(url)
    migrate(url, "base", downgrade=True)
    migrate(url)
