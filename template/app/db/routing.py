"""Read-replica routing: reads go to healthy replicas round-robin, everything else to the primary.

A replica serves a read only when it is up, its replay lag is within
DATABASE_REPLICA_MAX_LAG_SECONDS, and it has replayed the client's last write
(read-your-writes, below). Otherwise the read goes to the primary, and
``db_replica_fallbacks_total`` says why.

Read-your-writes: after a write commits on the primary, the write session reads the
primary's WAL insert position (an LSN) and hands it to the client, signed, as the
``read_after_lsn`` cookie and the ``X-Read-After-LSN`` header (app/db/read_your_writes.py).
A later read that carries the token back (the cookie is sent automatically; API
clients without a cookie jar may send the header) uses a replica only once that
replica's ``pg_last_wal_replay_lsn()`` has reached it; otherwise the primary.
The insert position (not the write position) is used because it is never behind
the commit record, even with ``synchronous_commit = off``.

Each replica's replay LSN and lag are measured at most once per
DATABASE_REPLICA_STATUS_TTL_SECONDS and shared by all requests; a client LSN newer
than the cached replay LSN triggers one fresh measurement before giving up on the
replica. A replica that fails to answer is marked down for
DATABASE_REPLICA_DOWN_BACKOFF_SECONDS, so it costs one failed connect per backoff,
not one per request. A replica that dies in the middle of a read (its connection
drops, or it is shutting down) costs nothing either: the read session is a
``ReplicaReadSession``, which marks the replica down and runs the same read again on
the primary (reads are safe to repeat). On SQLite (no replicas) all of this is a no-op.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from prometheus_client import Counter
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

logger = logging.getLogger(__name__)

READ_ROUTING = Counter(
    "db_read_routing_total",
    "Read sessions by the database that served them and why.",
    ["target", "reason"],
)
REPLICA_FALLBACKS = Counter(
    "db_replica_fallbacks_total",
    "Reads sent to the primary although replicas are configured, by the reason.",
    ["reason"],
)

SkipReason = Literal["down", "lagging", "behind_client"]

# One round trip: where replay is, and how far behind the primary it is. Lag is 0 when
# everything received is replayed (an idle primary is not lag). After a restart the
# receive position restarts at a segment boundary, below the replay one: nothing is
# pending then either. Without a WAL receiver (NULL) the lag is the age of the last
# replayed transaction. On a primary (a URL that is not a standby) the current insert
# position stands in for the replay one.
_REPLICA_STATUS_SQL = text(
    "SELECT CASE WHEN pg_is_in_recovery() "
    "THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END::text, "
    "CASE WHEN NOT pg_is_in_recovery() "
    "OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END"
)
# The position a replica must replay to show a just-committed write. A synchronous commit
# is flushed before it returns, so the flush position covers it, and replicas can reach
# it at once (WAL is streamed as it is flushed). The insert position would also count WAL
# still in the primary's buffers, which reaches replicas only after the WAL writer's next
# flush (up to wal_writer_delay later): reads would go to the primary meanwhile. With
# synchronous_commit=off the commit may not be flushed yet, so the insert position it is.
COMMIT_LSN_SQL = text(
    "SELECT CASE WHEN current_setting('synchronous_commit') = 'off' "
    "THEN pg_current_wal_insert_lsn() ELSE pg_current_wal_flush_lsn() END::text"
)


def parse_lsn(value: str) -> int:
    """PostgreSQL's ``XXXXXXXX/YYYYYYYY`` LSN as an integer that compares correctly."""
    high, _, low = value.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    replay_lsn: int
    lag_seconds: float


Probe = Callable[[AsyncEngine], Awaitable[ReplicaStatus]]


async def probe_replica(engine: AsyncEngine) -> ReplicaStatus:
    """Measure ``engine``'s replay LSN and lag with one query."""
    async with engine.connect() as connection:
        lsn, lag = (await connection.execute(_REPLICA_STATUS_SQL)).one()
    return ReplicaStatus(parse_lsn(lsn) if lsn else 0, float(lag))


# SQLSTATEs meaning "this server is gone or going", never "this query is wrong":
# class 08 (connection exceptions) and the shutdown codes of class 57 (not 57014, a
# statement timeout, which the primary would hit just the same).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def server_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database server went away (not that the query failed)."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError):  # refused, reset, closed sockets
            return True
        sqlstate = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        orig = getattr(current, "orig", None)
        pending.extend(
            [
                current.__cause__,
                current.__context__,
                orig if isinstance(orig, BaseException) else None,
            ]
        )
    return False


class ReplicaReadSession(AsyncSession):
    """A read session on a replica; if the replica goes away mid-read, the read re-runs on
    the primary once (``on_replica_lost`` marks the replica down and names the primary).

    Objects loaded before the switch stay usable (detached with their loaded state).
    """

    on_replica_lost: Callable[[BaseException], AsyncEngine | None] | None = None
    _failed_over = False

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute(*args, **kwargs)
        except Exception as error:
            if not await self._fail_over(error):
                raise
        return await super().execute(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().scalar(*args, **kwargs)
        except Exception as error:
            if not await self._fail_over(error):
                raise
        return await super().scalar(*args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().get(*args, **kwargs)
        except Exception as error:
            if not await self._fail_over(error):
                raise
        return await super().get(*args, **kwargs)

    async def _fail_over(self, error: BaseException) -> bool:
        if self._failed_over or self.on_replica_lost is None or not server_unavailable(error):
            return False
        primary = self.on_replica_lost(error)
        if primary is None:
            return False
        self._failed_over = True
        self.expunge_all()  # keep what was loaded: close() would expunge it anyway
        await self.close()  # give the dead connection back (the pool discards it)
        self.bind = primary
        self.sync_session.bind = primary.sync_engine
        return True


@dataclass(slots=True, eq=False)
class Replica:
    name: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    status: ReplicaStatus | None = None
    checked_at: float = float("-inf")
    down_until: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(frozen=True, slots=True)
class Route:
    """Where one read goes: ``replica`` is None for the primary."""

    replica: Replica | None
    reason: str

    @property
    def target(self) -> Literal["replica", "primary"]:
        return "primary" if self.replica is None else "replica"


class ReadRouter:
    """Chooses the database for each read session; see the module docstring."""

    def __init__(
        self,
        primary: async_sessionmaker[AsyncSession],
        replicas: Sequence[tuple[AsyncEngine, async_sessionmaker[AsyncSession]]] = (),
        *,
        max_lag_seconds: float = 5.0,
        status_ttl_seconds: float = 1.0,
        down_backoff_seconds: float = 5.0,
        probe_timeout_seconds: float = 2.0,
        probe: Probe = probe_replica,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.replicas = [
            Replica(f"replica-{index}", engine, sessions)
            for index, (engine, sessions) in enumerate(replicas)
        ]
        self.max_lag_seconds = max_lag_seconds
        self.status_ttl_seconds = status_ttl_seconds
        self.down_backoff_seconds = down_backoff_seconds
        self.probe_timeout_seconds = probe_timeout_seconds
        self._probe = probe
        self._clock = clock
        self._next = itertools.count()

    async def route(self, min_lsn: int | None = None) -> Route:
        """A replica (round-robin) able to serve a read needing ``min_lsn``, else the primary."""
        if not self.replicas:
            return self._count(Route(None, "no_replicas"))
        start = next(self._next) % len(self.replicas)
        first_skip: SkipReason | None = None
        for replica in self.replicas[start:] + self.replicas[:start]:
            skip = await self._skip_reason(replica, min_lsn)
            if skip is None:
                return self._count(Route(replica, "caught_up" if min_lsn else "healthy"))
            first_skip = first_skip or skip
        assert first_skip is not None  # noqa: S101 - every replica was skipped for a reason
        REPLICA_FALLBACKS.labels(reason=first_skip).inc()
        return self._count(Route(None, first_skip))

    @asynccontextmanager
    async def session(self, min_lsn: int | None = None) -> AsyncIterator[AsyncSession]:
        """A read session on the chosen database, its connection already checked.

        The connection is taken (and pre-pinged) before the endpoint runs, so a replica
        that died since its last check is marked down and the read moves to the primary.
        """
        route = await self.route(min_lsn)
        if route.replica is not None:
            replica = route.replica
            replica_session = ReplicaReadSession(**replica.sessions.kw)
            replica_session.on_replica_lost = lambda error: self._replica_lost(replica, error)
            try:
                await replica_session.connection()
            except Exception as error:  # noqa: BLE001 - any failure: use the primary instead
                await replica_session.close()
                self.mark_down(replica, error)
                REPLICA_FALLBACKS.labels(reason="down").inc()
                READ_ROUTING.labels(target="primary", reason="down").inc()
            else:
                async with replica_session:
                    yield replica_session
                return
        async with self.primary() as session:
            yield session

    def _replica_lost(self, replica: Replica, error: BaseException) -> AsyncEngine | None:
        """A read on ``replica`` lost its server mid-query: the primary's engine, to re-run it."""
        primary = self.primary.kw.get("bind")
        if not isinstance(primary, AsyncEngine):
            return None
        self.mark_down(replica, error)
        REPLICA_FALLBACKS.labels(reason="lost_mid_read").inc()
        READ_ROUTING.labels(target="primary", reason="lost_mid_read").inc()
        return primary

    def mark_down(self, replica: Replica, error: BaseException | None = None) -> None:
        replica.down_until = self._clock() + self.down_backoff_seconds
        replica.status = None
        logger.warning(
            "read replica %s is down; reads use the primary for %.1f s",
            replica.name,
            self.down_backoff_seconds,
            exc_info=error,
        )

    async def dispose(self) -> None:
        """Close the replicas' pools (the primary engine is closed by its owner)."""
        for replica in self.replicas:
            await replica.engine.dispose()

    async def _skip_reason(self, replica: Replica, min_lsn: int | None) -> SkipReason | None:
        if self._clock() < replica.down_until:
            return "down"
        status = replica.status
        if status is None or self._clock() - replica.checked_at >= self.status_ttl_seconds:
            status = await self._refresh(replica, replica.checked_at)
        elif min_lsn is not None and status.replay_lsn < min_lsn:
            # The cached position is a lower bound: measure again before giving up.
            status = await self._refresh(replica, replica.checked_at)
        if status is None:
            return "down"
        if status.lag_seconds > self.max_lag_seconds:
            return "lagging"
        if min_lsn is not None and status.replay_lsn < min_lsn:
            return "behind_client"
        return None

    async def _refresh(self, replica: Replica, seen_checked_at: float) -> ReplicaStatus | None:
        async with replica.lock:
            if replica.checked_at != seen_checked_at:
                return replica.status  # another request measured it while we waited
            try:
                async with asyncio.timeout(self.probe_timeout_seconds):
                    status = await self._probe(replica.engine)
            except Exception as error:  # noqa: BLE001 - down is down, whatever the cause
                self.mark_down(replica, error)
                replica.checked_at = self._clock()
                return None
            replica.status = status
            replica.checked_at = self._clock()
            return status

    @staticmethod
    def _count(route: Route) -> Route:
        READ_ROUTING.labels(target=route.target, reason=route.reason).inc()
        return route
