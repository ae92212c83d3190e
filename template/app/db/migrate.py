"""``python -m app.db.migrate``: upgrade the database to the code's Alembic head.

The deploy runs it before new code takes traffic (ECS: a ``migrate`` container the
``app`` container depends on with ``condition: SUCCESS``), so every task starting at
once runs it too. On PostgreSQL a session advisory lock on a fixed key serializes
them: the first migrates, the others wait for the lock, find the schema at head and
do nothing. The lock belongs to the connection, so a run that dies releases it.
Exit status 0 means the schema is at head; anything else logs one line saying why.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.db.schema import alembic_config, database_revisions
from app.observability.logging import configure_logging
from app.settings import Settings

logger = logging.getLogger("app.db.migrate")

# "tenfold" as a 64-bit integer: one key per database, shared by every version of the app.
MIGRATION_LOCK_KEY = int.from_bytes(b"tenfold", "big")


async def upgrade_to_head(database_url: str) -> frozenset[str]:
    """Upgrade ``database_url`` to head, serialized across processes; returns the revisions."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                logger.info("waiting for the migration lock")
                await connection.execute(
                    text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                await connection.commit()
            revisions = await connection.run_sync(_upgrade)
            # Alembic joined the transaction the revision check began: commit it here.
            await connection.commit()
            # No explicit unlock: closing this connection (NullPool) releases the lock.
            return revisions
    finally:
        await engine.dispose()


def _upgrade(connection: Connection) -> frozenset[str]:
    before = database_revisions(connection)
    command.upgrade(alembic_config(connection=connection, configure_logger=False), "head")
    after = database_revisions(connection)
    if before == after:
        logger.info("schema already at head %s", ", ".join(sorted(after)))
    else:
        logger.info(
            "schema migrated from %s to %s",
            ", ".join(sorted(before)) or "an empty database",
            ", ".join(sorted(after)),
        )
    return after


def main() -> None:
    configure_logging()
    try:
        settings = Settings()
        configure_logging(level=settings.log_level, json=settings.log_json)
        asyncio.run(upgrade_to_head(settings.primary_database_url))
    except Exception as error:  # noqa: BLE001 - any failure: one line, non-zero exit
        message = " ".join(str(error).split())
        logger.error("migration failed: %s: %s", type(error).__name__, message)
        sys.exit(1)


if __name__ == "__main__":
    main()
