"""Async engines built from settings: SQLite by default, PostgreSQL in production."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from app.db.slow_queries import log_slow_queries
from app.settings import Settings


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    """Create an engine for ``url`` with the pool and timeouts from ``settings``."""
    backend = make_url(url).get_backend_name()
    options: dict[str, Any] = {
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_max_overflow,
        "pool_timeout": settings.database_pool_timeout_seconds,
        "pool_recycle": settings.database_pool_recycle_seconds,
        # A connection the server dropped (failover, idle timeout) is replaced, not served.
        "pool_pre_ping": True,
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
    engine = create_async_engine(url, **options)
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
    log_slow_queries(engine, settings.database_slow_query_threshold_ms)
    return engine


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
