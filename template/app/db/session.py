"""Per-request database sessions: ``ReadSession`` for reads, ``WriteSession`` for writes.

``ReadSession`` goes wherever ``app.db.routing.ReadRouter`` sends it: a caught-up
replica, or the primary. ``WriteSession`` (alias ``Session``) always uses the
primary; every commit on it hands the client a read-your-writes token (see routing).
Endpoints that change data, or read and then write, take a ``WriteSession``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.routing import (
    COMMIT_LSN_SQL,
    READ_AFTER_LSN_COOKIE,
    READ_AFTER_LSN_HEADER,
    parse_lsn,
    read_lsn_token,
)
from app.settings import Environment
from app.state import resources_of

_ON_COMMIT_LSN = "on_commit_lsn"


class PrimarySession(AsyncSession):
    """A session that learns the primary's WAL position after each commit (PostgreSQL)."""

    async def commit(self) -> None:
        await super().commit()
        on_commit_lsn: Callable[[int], None] | None = self.info.get(_ON_COMMIT_LSN)
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


async def get_session(request: Request, response: Response) -> AsyncIterator[AsyncSession]:
    """A primary session; it rolls back whatever the endpoint left uncommitted."""
    resources = resources_of(request)
    window_seconds = resources.settings.database_read_your_writes_window_seconds

    def hand_out_lsn(lsn: int) -> None:
        response.headers[READ_AFTER_LSN_HEADER] = str(lsn)
        if window_seconds:
            response.set_cookie(
                READ_AFTER_LSN_COOKIE,
                str(lsn),
                max_age=window_seconds,
                httponly=True,
                secure=resources.settings.environment is Environment.PRODUCTION,
                samesite="lax",
            )

    async with resources.session_factory() as session:
        session.info[_ON_COMMIT_LSN] = hand_out_lsn
        yield session


def _client_lsn(request: Request) -> int | None:
    """The WAL position of the client's last write, if it sent one back."""
    return read_lsn_token(
        request.headers.get(READ_AFTER_LSN_HEADER), request.cookies.get(READ_AFTER_LSN_COOKIE)
    )


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session on a replica that has seen the client's writes, else on the primary."""
    async with resources_of(request).read_router.session(_client_lsn(request)) as session:
        yield session


class ReadSessionOnDemand:
    """A read session opened on the first ``await reads()``, closed with the request.

    For endpoints that answer from the cache first: a hit never checks out (and
    pre-pings) a database connection, which costs more than the cached answer itself.
    """

    def __init__(self, request: Request, exit_stack: AsyncExitStack) -> None:
        self._request = request
        self._exit_stack = exit_stack
        self._session: AsyncSession | None = None

    async def __call__(self) -> AsyncSession:
        if self._session is None:
            router = resources_of(self._request).read_router
            reads = router.session(_client_lsn(self._request))
            self._session = await self._exit_stack.enter_async_context(reads)
        return self._session


async def get_read_session_on_demand(request: Request) -> AsyncIterator[ReadSessionOnDemand]:
    async with AsyncExitStack() as exit_stack:
        yield ReadSessionOnDemand(request, exit_stack)


WriteSession = Annotated[AsyncSession, Depends(get_session)]
ReadSession = Annotated[AsyncSession, Depends(get_read_session)]
LazyReadSession = Annotated[ReadSessionOnDemand, Depends(get_read_session_on_demand)]
# The primary session under its original name, for code that predates the split.
Session = WriteSession
