"""Database sessions: primary sessions that learn their commit's WAL position, and
read sessions opened only when a request first needs one.

Routes get them as ``WriteSession``, ``ReadSession`` and ``LazyReadSession`` from
app/api/deps.py. A read session goes wherever ``app.db.routing.ReadRouter`` sends it:
a caught-up replica, or the primary; a write session always uses the primary, and every
commit on it hands the client a read-your-writes token (see routing).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.routing import COMMIT_LSN_SQL, ReadRouter, parse_lsn

# The session.info key of the callback that receives each commit's WAL position.
ON_COMMIT_LSN = "on_commit_lsn"


class PrimarySession(AsyncSession):
    """A session that learns the primary's WAL position after each commit (PostgreSQL)."""

    async def commit(self) -> None:
        await super().commit()
        on_commit_lsn: Callable[[int], None] | None = self.info.get(ON_COMMIT_LSN)
        engine = self.bind
        if on_commit_lsn is None or not isinstance(engine, AsyncEngine):
            return
        if engine.dialect.name != "postgresql":
            return
        # A separate connection, so the session's state (and its objects) stay untouched;
        # the pool hands back the connection the commit just released.
        async with engine.connect() as connection:
            lsn = await connection.scalar(COMMIT_LSN_SQL)
        if lsn:
            on_commit_lsn(parse_lsn(lsn))


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (no surprise lazy loads)."""
    return async_sessionmaker(engine, expire_on_commit=False, class_=PrimarySession)


class ReadSessionOnDemand:
    """A read session opened on the first ``await reads()``, closed with the request.

    For endpoints that answer from the cache first: a hit never checks out (and
    pre-pings) a database connection, which costs more than the cached answer itself.
    """

    def __init__(
        self,
        router: ReadRouter,
        client_lsn: Callable[[], int | None],
        exit_stack: AsyncExitStack,
    ) -> None:
        self._router = router
        self._client_lsn = client_lsn  # read only when a session is needed
        self._exit_stack = exit_stack
        self._session: AsyncSession | None = None

    async def __call__(self) -> AsyncSession:
        if self._session is None:
            reads = self._router.session(self._client_lsn())
            self._session = await self._exit_stack.enter_async_context(reads)
        return self._session
