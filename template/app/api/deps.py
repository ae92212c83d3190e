"""Every request dependency in one place, so routes read as plain functions.

Routes take what they need as annotated parameters: ``WriteSession``,
``UntrackedWriteSession``, ``ReadSession`` or ``LazyReadSession`` for the database,
``ResponseCache`` for cache-aside, ``PageParams`` for keyset pages,
``CurrentUserId``/``OptionalUserId`` for the caller, and ``PublicCacheControl`` to let
browsers and the CDN keep a response. The modules behind them (app/db/, app/cache.py,
app/auth/) know nothing about FastAPI.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import TYPE_CHECKING, Annotated, Any, cast

from fastapi import Depends, HTTPException, Query, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.tokens import InvalidAccessTokenError
from app.cache import Cache
from app.db.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Cursor,
    InvalidCursorError,
    PageRequest,
)
from app.db.read_your_writes import READ_AFTER_LSN_COOKIE, READ_AFTER_LSN_HEADER
from app.db.session import ON_COMMIT_LSN, ReadSessionOnDemand
from app.settings import Environment

if TYPE_CHECKING:
    from app.resources import Resources


def resources_of(request: Request) -> Resources:
    """The app's long-lived objects (``create_app`` puts them on ``app.state``)."""
    return cast("Resources", request.app.state.resources)


# --- Database sessions (app/db/) ---


async def get_write_session(request: Request, response: Response) -> AsyncIterator[AsyncSession]:
    """A primary session; it rolls back whatever the endpoint left uncommitted.

    Every commit on it hands the client a read-your-writes token (see app/db/routing.py).
    """
    resources = resources_of(request)
    window_seconds = resources.settings.database_read_your_writes_window_seconds

    def hand_out_lsn(lsn: int) -> None:
        token = resources.lsn_tokens.issue(lsn)
        response.headers[READ_AFTER_LSN_HEADER] = token
        if window_seconds:
            response.set_cookie(
                READ_AFTER_LSN_COOKIE,
                token,
                max_age=window_seconds,
                httponly=True,
                secure=resources.settings.environment is Environment.PRODUCTION,
                samesite="lax",
            )

    async with resources.session_factory() as session:
        session.info[ON_COMMIT_LSN] = hand_out_lsn
        yield session


async def get_untracked_write_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A primary session whose commits hand out no read-your-writes token.

    For writes whose answer must not show whether anything was written: sign-up commits
    only for a new email, so a token in its answer would tell new emails from taken ones.
    """
    async with resources_of(request).session_factory() as session:
        yield session


def _client_lsn(request: Request) -> int | None:
    """The WAL position of the client's last write, if it sent back a token we issued."""
    return resources_of(request).lsn_tokens.newest(
        request.headers.get(READ_AFTER_LSN_HEADER), request.cookies.get(READ_AFTER_LSN_COOKIE)
    )


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session on a replica that has seen the client's writes, else on the primary."""
    async with resources_of(request).read_router.session(_client_lsn(request)) as session:
        yield session


async def get_read_session_on_demand(request: Request) -> AsyncIterator[ReadSessionOnDemand]:
    router = resources_of(request).read_router
    async with AsyncExitStack() as exit_stack:
        yield ReadSessionOnDemand(router, functools.partial(_client_lsn, request), exit_stack)


# Endpoints that change data, or read and then write, take a WriteSession.
WriteSession = Annotated[AsyncSession, Depends(get_write_session)]
UntrackedWriteSession = Annotated[AsyncSession, Depends(get_untracked_write_session)]
ReadSession = Annotated[AsyncSession, Depends(get_read_session)]
LazyReadSession = Annotated[ReadSessionOnDemand, Depends(get_read_session_on_demand)]


# --- Cache-aside (app/cache.py) ---


async def get_cache(request: Request) -> Cache:
    cache = resources_of(request).cache
    # A read-your-writes request must not see another process's copy of a key its own
    # write just invalidated (the invalidation may still be on its way).
    return cache if _client_lsn(request) is None else cache.without_near_cache()


ResponseCache = Annotated[Cache, Depends(get_cache)]


# --- Keyset pages (app/db/pagination.py) ---


PageLimit = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page (at most 100).")
]
PageCursor = Annotated[
    str | None,
    Query(max_length=200, description="next_cursor of the previous page; omit for the first."),
]


async def page_request(
    limit: PageLimit = DEFAULT_PAGE_SIZE, cursor: PageCursor = None
) -> PageRequest:
    return page_from(limit, cursor)


def page_from(limit: int, cursor: str | None) -> PageRequest:
    """A keyset page request (hot routes take ``limit`` and ``cursor`` as plain parameters)."""
    if cursor is None:
        return PageRequest(limit, None)
    try:
        return PageRequest(limit, Cursor.decode(cursor))
    except InvalidCursorError:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            "Invalid cursor: pass the next_cursor value of a previous page unchanged",
        ) from None


PageParams = Annotated[PageRequest, Depends(page_request)]


# --- Cache-Control for browsers and the CDN (app/http/cache_control.py) ---


async def public_cache_control(request: Request, response: Response) -> None:
    """Mark a successful response as cacheable by browsers and the CDN."""
    response.headers["Cache-Control"] = resources_of(request).public_cache_control.decode()


PublicCacheControl = Depends(public_cache_control)


# --- The caller (app/auth/): access tokens checked on every protected request ---

# auto_error=False: we answer 401 (not 403) with a proper WWW-Authenticate header ourselves.
bearer_scheme = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def _unauthorized(detail: str, error: str | None = None) -> HTTPException:
    challenge = f'Bearer error="{error}"' if error else "Bearer"
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, {"WWW-Authenticate": challenge})


async def optional_user_id(request: Request, credentials: Credentials) -> int | None:
    """The caller's user id, None when anonymous; a bad token is still a 401."""
    if credentials is None:
        return None
    return await _verified_user_id(resources_of(request), credentials.credentials)


async def _verified_user_id(resources: Resources, token: str) -> int:
    try:
        claims = resources.access_tokens.verify(token)
    except InvalidAccessTokenError as error:
        raise _unauthorized(
            "Invalid or expired access token; log in or refresh it", "invalid_token"
        ) from error
    # A dict lookup most of the time (app/auth/revocations.py).
    if await resources.revoked_families.is_revoked(claims.family_id):
        raise _unauthorized("This session was logged out or revoked; log in again", "invalid_token")
    return claims.user_id


async def current_user_id(user_id: Annotated[int | None, Depends(optional_user_id)]) -> int:
    if user_id is None:
        raise _unauthorized("Not authenticated: send 'Authorization: Bearer <access token>'")
    return user_id


CurrentUserId = Annotated[int, Depends(current_user_id)]
OptionalUserId = Annotated[int | None, Depends(optional_user_id)]


# --- Hot public reads: one dependency that resolves nothing a cache hit does not use ---


class PublicRead:
    """What the catalog and item reads need, each part resolved only when asked for.

    FastAPI's dependency solving costs about as much per dependency as a near-cache hit
    itself, and a hit needs only the cache and the Cache-Control header. The read session
    (``read_session``) and the caller (``viewer_id``, which verifies the access token) are
    resolved by the route on a miss only: a published item is public, so its cached
    answer does not depend on who asks.
    """

    __slots__ = ("request", "resources")

    def __init__(self, request: Request, resources: Resources) -> None:
        self.request = request
        self.resources = resources

    @property
    def cache(self) -> Cache:
        cache = self.resources.cache
        # A read-your-writes request must not see another process's copy of a key its own
        # write just invalidated (the invalidation may still be on its way).
        return cache if _client_lsn(self.request) is None else cache.without_near_cache()

    def read_session(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self.resources.read_router.session(_client_lsn(self.request))

    async def viewer_id(self) -> int | None:
        """The caller's user id, None when anonymous; a bad token is a 401."""
        authorization = self.request.headers.get("authorization")
        if authorization is None:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None  # as HTTPBearer(auto_error=False): not a bearer token, anonymous
        return await _verified_user_id(self.resources, token)

    @property
    def public_headers(self) -> list[tuple[bytes, bytes]]:
        """The public Cache-Control header (CacheControlMiddleware keeps it only when safe)."""
        return [(b"cache-control", self.resources.public_cache_control)]


async def public_read(request: Request) -> PublicRead:
    return PublicRead(request, resources_of(request))


PublicReads = Annotated[PublicRead, Depends(public_read)]

# For routes that take OptionalUserId: the token is optional ({} is "no security"),
# so the document does not promise a 401 to anonymous callers. FastAPI appends this
# list to the bearer requirement it derives from the dependency.
OPTIONAL_AUTH_OPENAPI: dict[str, Any] = {"security": [{}]}
# Routes that take PublicReads read the token themselves, so FastAPI derives no
# requirement: the document states both the bearer token and "no security".
PUBLIC_READ_OPENAPI: dict[str, Any] = {"security": [{"HTTPBearer": []}, {}]}
