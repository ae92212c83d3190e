"""A read whose replica goes away mid-query runs again on the primary; other errors do not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from app.db.routing import ReadRouter, ReplicaStatus, server_unavailable


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (ConnectionResetError("reset by peer"), True),
        (_PgError("57P01"), True),  # admin_shutdown: the replica is stopping
        (_PgError("57P03"), True),  # cannot_connect_now: it is starting
        (_PgError("08006"), True),  # connection_failure
        (_PgError("57014"), False),  # statement timeout: the primary would time out too
        (_PgError("42P01"), False),  # undefined table: a bug, not an outage
        (OperationalError("SELECT 1", {}, _PgError("57P01")), True),
        (ProgrammingError("SELECT 1", {}, _PgError("42601")), False),
    ],
)
def test_only_a_lost_server_counts_as_unavailable(error: Exception, unavailable: bool) -> None:
    assert server_unavailable(error) is unavailable


async def _engine(path: Path, value: str) -> AsyncEngine:
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE answer (value TEXT)"))
        await connection.execute(text("INSERT INTO answer VALUES (:value)"), {"value": value})
    return engine


async def _healthy(_engine: AsyncEngine) -> ReplicaStatus:
    return ReplicaStatus(replay_lsn=0, lag_seconds=0.0)


async def _router(tmp_path: Path, fail_with: Exception) -> tuple[ReadRouter, list[AsyncEngine]]:
    primary = await _engine(tmp_path / "primary.db", "primary")
    replica = await _engine(tmp_path / "replica.db", "replica")

    @event.listens_for(replica.sync_engine, "before_cursor_execute")
    def _lose_the_server(*_args: Any) -> None:
        raise fail_with

    router = ReadRouter(
        async_sessionmaker(primary, expire_on_commit=False),
        [(replica, async_sessionmaker(replica, expire_on_commit=False))],
        probe=_healthy,
    )
    return router, [primary, replica]


async def test_a_read_on_a_dying_replica_is_answered_by_the_primary(tmp_path: Path) -> None:
    router, engines = await _router(tmp_path, ConnectionResetError("replica went away"))
    try:
        async with router.session() as session:
            assert await session.scalar(text("SELECT value FROM answer")) == "primary"
        route = await router.route()
        assert (route.target, route.reason) == ("primary", "down")  # skipped for the backoff
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_failing_query_is_not_repeated_on_the_primary(tmp_path: Path) -> None:
    router, engines = await _router(tmp_path, _PgError("42P01"))
    try:
        with pytest.raises(_PgError):
            async with router.session() as session:
                await session.execute(text("SELECT value FROM answer"))
        assert (await router.route()).target == "replica"
    finally:
        for engine in engines:
            await engine.dispose()
