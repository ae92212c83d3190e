"""Register, log in, refresh and log out."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError

from app.api.deps import UntrackedWriteSession, WriteSession, resources_of
from app.api.strict_json import StrictJsonRoute
from app.auth.client_ip import Networks, client_ip, parse_networks
from app.auth.password_strength import WeakPasswordError, check_strength
from app.auth.passwords import HashingBusyError
from app.auth.rate_limit import RateLimiter, login_keys, registration_keys
from app.auth.session_store import UNAVAILABLE, session_store
from app.repositories import users
from app.resources import Resources
from app.schemas.auth import (
    REGISTRATION_ACCEPTED,
    Credentials,
    LoginRequest,
    RefreshRequest,
    RegistrationAccepted,
    TokenPair,
)
from app.schemas.errors import error_responses
from app.settings import Settings

router = APIRouter(prefix="/auth", tags=["auth"], route_class=StrictJsonRoute)
T = TypeVar("T")

HASHING_RETRY_AFTER_SECONDS = 2
UNAUTHORIZED = error_responses(401, _401="Wrong email or password, or an unusable token")
TOO_MANY = error_responses(
    429,
    _429="Too many login attempts for this email, from this address or from its network; "
    "retry after Retry-After seconds",
)
BUSY = error_responses(
    503,
    _503="Too many password checks at once, or the session store is unreachable; retry "
    "after Retry-After seconds",
)


@router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(
        429,
        503,
        _429="Too many sign-ups from this address or network; retry after Retry-After seconds",
        _503="Too many password checks at once; retry after Retry-After seconds",
    ),
)
async def register(
    body: Credentials, request: Request, session: UntrackedWriteSession
) -> RegistrationAccepted:
    """Create an account; the answer is the same whether or not the email already has one.

    So that sign-up cannot tell which emails have accounts, a taken email gets the same
    202, headers and body, after the same work (the password is hashed either way; no
    read-your-writes token, which only a committed new account would get). Log in to use
    the account: that is the only step whose answer depends on the password.
    """
    resources = resources_of(request)
    settings = resources.settings
    limiter = RateLimiter(
        resources.store, limit="registration", window_seconds=settings.registration_window_seconds
    )
    keys = registration_keys(
        _client_ip(request, settings),
        ip_limit=settings.registration_attempts_per_window,
        network_limit=settings.registration_network_attempts_per_window,
        ipv4_prefix_length=settings.rate_limit_ipv4_prefix_length,
        ipv6_prefix_length=settings.rate_limit_ipv6_prefix_length,
    )
    await limiter.check(keys, "Too many sign-ups from this address or network")
    try:
        check_strength(body.password, body.email, min_score=settings.password_min_strength)
    except WeakPasswordError as weak:
        raise RequestValidationError(
            [{"type": "password_too_weak", "loc": ("body", "password"), "msg": str(weak)}]
        ) from None
    password_hash = await _busy_is_503(resources.passwords.hash(body.password))
    # A taken email gets the same answer as a new account: see the docstring.
    with contextlib.suppress(users.EmailTakenError):
        await users.create_user(session, body.email, password_hash)
    return REGISTRATION_ACCEPTED


@router.post("/login", responses={**UNAUTHORIZED, **TOO_MANY, **BUSY})
async def login(body: LoginRequest, request: Request, session: WriteSession) -> TokenPair:
    resources = resources_of(request)
    settings = resources.settings
    # Checked before the password, so refused attempts cost no hashing either.
    limiter = RateLimiter(
        resources.store, limit="login", window_seconds=settings.login_window_seconds
    )
    keys = login_keys(
        _client_ip(request, settings),
        body.email,
        settings.login_attempts_per_window,
        network_limit=settings.login_network_attempts_per_window,
        ipv4_prefix_length=settings.rate_limit_ipv4_prefix_length,
        ipv6_prefix_length=settings.rate_limit_ipv6_prefix_length,
    )
    await limiter.check(
        keys, "Too many login attempts for this account, from this address or from its network"
    )
    user = await users.find_user_by_email(session, body.email)
    # Verify even for an unknown email, so timing does not reveal which emails exist.
    password_matches = await _busy_is_503(
        resources.passwords.verify(user.password_hash if user else None, body.password)
    )
    if user is None or not password_matches:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Wrong email or password")
    with session_store("login"):
        refresh_session, refresh_token = await resources.refresh_tokens.start(user.id)
    return _token_pair(resources, user.id, refresh_session.family_id, refresh_token)


@router.post("/refresh", responses={**UNAUTHORIZED, **UNAVAILABLE})
async def refresh(body: RefreshRequest, request: Request) -> TokenPair:
    """Exchange a refresh token for a new pair; the presented token stops working.

    Sent again within REFRESH_TOKEN_REUSE_GRACE_SECONDS (a retry), it answers the same
    new refresh token (with a fresh access token) instead of revoking the session.
    """
    resources = resources_of(request)
    with session_store("refresh"):
        rotated = await resources.refresh_tokens.rotate(body.refresh_token)
    if rotated is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "Refresh token is invalid, expired, used or revoked"
        )
    session, new_refresh_token = rotated
    return _token_pair(resources, session.user_id, session.family_id, new_refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=UNAVAILABLE)
async def logout(body: RefreshRequest, request: Request) -> None:
    """Revoke the session: its refresh tokens at once, its access tokens within
    ACCESS_TOKEN_REVOCATION_CACHE_SECONDS on every instance."""
    with session_store("logout"):
        await resources_of(request).refresh_tokens.revoke(body.refresh_token)


async def _busy_is_503(work: Awaitable[T]) -> T:
    try:
        return await work
    except HashingBusyError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"Too many sign-ups and logins are being checked at once; retry in "
            f"{HASHING_RETRY_AFTER_SECONDS} seconds",
            {"Retry-After": str(HASHING_RETRY_AFTER_SECONDS)},
        ) from None


def _client_ip(request: Request, settings: Settings) -> str:
    return client_ip(request, _trusted(tuple(settings.trusted_proxies)), settings.client_ip_header)


@functools.cache
def _trusted(entries: tuple[str, ...]) -> Networks:
    return tuple(parse_networks(entries))


def _token_pair(
    resources: Resources, user_id: int, family_id: str, refresh_token: str
) -> TokenPair:
    return TokenPair(
        access_token=resources.access_tokens.issue(user_id, family_id),
        refresh_token=refresh_token,
        expires_in=resources.access_tokens.ttl_seconds,
    )
