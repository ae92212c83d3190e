"""Async engines built from settings: SQLite by default, PostgreSQL in production."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from app.db.slow_queries import log_slow_queries
from app.settings import Settings


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    """Create an engine for ``url`` with the pool and timeouts from ``settings``."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    options: dict[str, Any] = {
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_max_overflow,
        "pool_timeout": settings.database_pool_timeout_seconds,
        "pool_recycle": settings.database_pool_recycle_seconds,
        # A connection the server dropped (failover, idle timeout) is replaced, not served.
        "pool_pre_ping": True,
        # Database errors name the statement, never its bound values: those hold emails,
        # password hashes and tokens, and the error's text reaches logs and tracebacks.
        "hide_parameters": True,
    }
    if backend == "postgresql":
        server_settings = {"application_name": "app"}
        if settings.database_statement_timeout_seconds:
            timeout_ms = int(settings.database_statement_timeout_seconds * 1000)
            server_settings["statement_timeout"] = str(timeout_ms)
        options["connect_args"] = {
            "timeout": settings.database_connect_timeout_seconds,
            "server_settings": server_settings,
        }
    if backend == "sqlite":
        options["async_creator"] = sqlite_connector(parsed)
    engine = create_async_engine(url, **options)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
    log_slow_queries(engine, settings.database_slow_query_threshold_ms)
    return engine


def sqlite_connector(url: URL) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """Open aiosqlite connections for ``url`` and, when opening fails, wait for the worker thread.

    aiosqlite runs each connection on a thread of its own. When the file cannot be opened it
    queues that thread's stop without waiting for it, and the thread later reports to the
    event loop, which may be closed by then: "RuntimeError: Event loop is closed" in a thread
    nobody owns (omnilib/aiosqlite#389). Waiting here keeps the failure inside the request
    that caused it.
    """
    args, kwargs = SQLiteDialect_aiosqlite().create_connect_args(url)

    async def connect() -> aiosqlite.Connection:
        connection = aiosqlite.connect(*args, **kwargs)
        # Like SQLAlchemy's own connector: a forgotten connection never holds up exit.
        connection._thread.daemon = True
        try:
            return await connection
        except BaseException:
            await asyncio.to_thread(connection._thread.join, 5.0)
            raise

    return connect


def _configure_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # SQLite leaves foreign keys off by default; WAL lets readers run beside a writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError as error:
        # The switch needs the file to itself, and waits for no busy timeout. WAL is kept in
        # the file, and every connection made here asks for it, so a file busy with other
        # connections is in WAL already: this one goes on without the switch.
        if "locked" not in str(error):
            raise
    finally:
        cursor.close()
