"""Where the database schema stands against the migrations this code ships.

/readyz uses it so an instance whose schema is behind the code (the deploy has not
migrated yet, or migrating failed) leaves the load balancer instead of answering 500
on every data route. A schema *ahead* of the code is normal mid-deploy: the new
version migrated while old tasks still serve, and (with backward-compatible
migrations) they keep working, so that never fails readiness; it is reported instead.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger(__name__)
SERVICE_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = SERVICE_ROOT / "alembic.ini"
VERSION_TABLE = "alembic_version"  # Alembic's default; migrations/env.py keeps it


def alembic_config(**attributes: Any) -> Config:
    """The service's alembic.ini, with ``attributes`` passed on to migrations/env.py."""
    config = Config(ALEMBIC_INI)
    config.attributes.update(attributes)
    return config


@dataclass(frozen=True, slots=True)
class Migrations:
    """The revisions the code ships: every known one, and the heads."""

    heads: frozenset[str]
    known: frozenset[str]


@functools.cache
def shipped_migrations() -> Migrations:
    script = ScriptDirectory.from_config(alembic_config())
    return Migrations(
        heads=frozenset(script.get_heads()),
        known=frozenset(revision.revision for revision in script.walk_revisions()),
    )


class SchemaState(StrEnum):
    AT_HEAD = "at_head"
    BEHIND = "behind"
    AHEAD = "ahead"


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    state: SchemaState
    detail: str

    @property
    def ready(self) -> bool:
        return self.state is not SchemaState.BEHIND


def compare(database_revisions: frozenset[str], migrations: Migrations) -> SchemaStatus:
    """Place the revisions in ``alembic_version`` against the code's migrations."""
    heads = ", ".join(sorted(migrations.heads))
    if not database_revisions:
        return SchemaStatus(
            SchemaState.BEHIND,
            f"the database has no Alembic revision; run `python -m app.db.migrate` (head: {heads})",
        )
    current = ", ".join(sorted(database_revisions))
    unknown = database_revisions - migrations.known
    if unknown:
        return SchemaStatus(
            SchemaState.AHEAD,
            f"the database is at {current}, newer than this code (head: {heads}); "
            "expected while a newer version deploys",
        )
    if database_revisions == migrations.heads:
        return SchemaStatus(SchemaState.AT_HEAD, f"at head {heads}")
    return SchemaStatus(
        SchemaState.BEHIND,
        f"the database is at {current}, behind this code's head {heads}; "
        "run `python -m app.db.migrate`",
    )


def database_revisions(connection: Connection) -> frozenset[str]:
    """The revisions in ``alembic_version`` (empty when the table does not exist).

    Read with plain SQL rather than Alembic's MigrationContext, which logs two INFO
    lines each time it is created: /readyz would add them to every check."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return frozenset()
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))  # noqa: S608
    return frozenset(str(row[0]) for row in rows)


class SchemaCheck:
    """Cached schema status: /readyz is polled every few seconds, the schema changes
    once per deploy. A ready result is trusted for ``ttl_seconds``; a "behind" one is
    checked again on every call, so the instance joins as soon as migrations finish."""

    def __init__(self, engine: AsyncEngine, *, ttl_seconds: float = 60.0) -> None:
        self._engine = engine
        self._ttl_seconds = ttl_seconds
        self._cached: SchemaStatus | None = None
        self._checked_at = 0.0
        self._last_state: SchemaState | None = None

    async def status(self) -> SchemaStatus:
        now = time.monotonic()
        if self._cached is not None and now - self._checked_at < self._ttl_seconds:
            return self._cached
        async with self._engine.connect() as connection:
            revisions = await connection.run_sync(database_revisions)
        status = compare(revisions, shipped_migrations())
        if status.state is not self._last_state and status.state is not SchemaState.AT_HEAD:
            # Once per change, not once per poll.
            log = logger.warning if status.state is SchemaState.BEHIND else logger.info
            log("database schema: %s", status.detail)
        self._last_state = status.state
        if status.ready:
            self._cached, self._checked_at = status, now
        else:
            self._cached = None
        return status
