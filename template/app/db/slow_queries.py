"""The slow-query log: statements slower than a threshold, with their duration.

Timed around each cursor execution on the engine, so it sees every statement the
ORM and Core send, on SQLite and PostgreSQL alike. Parameters are never logged:
they may hold personal data or secrets.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

logger = logging.getLogger("app.db.slow_queries")

_STARTED = "slow_query_started"


def log_slow_queries(engine: AsyncEngine, threshold_ms: float) -> None:
    """Log statements on ``engine`` that take ``threshold_ms`` or longer (0: do nothing)."""
    if threshold_ms <= 0:
        return
    sync_engine = engine.sync_engine
    database = sync_engine.url.render_as_string(hide_password=True)

    def before(conn: Connection, *_args: Any) -> None:
        # A statement that raises never reaches "after"; its start time is just replaced.
        conn.info[_STARTED] = time.perf_counter()

    def after(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        started = conn.info.pop(_STARTED, None)
        if started is None:
            return
        duration_ms = (time.perf_counter() - started) * 1000
        if duration_ms >= threshold_ms:
            logger.warning(
                "slow query: %.1f ms: %s",
                duration_ms,
                statement,
                extra={
                    "duration_ms": round(duration_ms, 3),
                    "statement": statement,
                    "database": database,
                },
            )

    event.listen(sync_engine, "before_cursor_execute", before)
    event.listen(sync_engine, "after_cursor_execute", after)
