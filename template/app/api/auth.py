"""Register, log in, refresh and log out."""

from __future__ import annotations

import functools

from fastapi import APIRouter, HTTPException, Request, status

from app.api.deps import WriteSession, resources_of
from app.auth.client_ip import Networks, client_ip, parse_networks
from app.auth.login_rate_limit import LoginRateLimiter
from app.auth.passwords import hash_password, verify_password
from app.auth.session_store import UNAVAILABLE, session_store
from app.repositories import users
from app.resources import Resources
from app.schemas.auth import Credentials, LoginRequest, RefreshRequest, TokenPair
from app.schemas.errors import error_responses
from app.schemas.users import UserOut

router = APIRouter(prefix="/auth", tags=["auth"])

UNAUTHORIZED = error_responses(401, _401="Wrong email or password, or an unusable token")
TOO_MANY = error_responses(
    429,
    _429="Too many login attempts for this email or from this address; retry after "
    "Retry-After seconds",
)


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409, _409="The email is already registered"),
)
async def register(body: Credentials, session: WriteSession) -> UserOut:
    try:
        user = await users.create_user(session, body.email, await hash_password(body.password))
    except users.EmailTakenError:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "An account with this email already exists"
        ) from None
    return UserOut.model_validate(user)


@router.post("/login", responses={**UNAUTHORIZED, **TOO_MANY, **UNAVAILABLE})
async def login(body: LoginRequest, request: Request, session: WriteSession) -> TokenPair:
    resources = resources_of(request)
    settings = resources.settings
    # Checked before the password, so refused attempts cost no hashing either.
    limiter = LoginRateLimiter(
        resources.store,
        attempts=settings.login_attempts_per_window,
        window_seconds=settings.login_window_seconds,
    )
    address = client_ip(
        request, _trusted(tuple(settings.trusted_proxies)), settings.client_ip_header
    )
    await limiter.check(address, body.email)
    user = await users.find_user_by_email(session, body.email)
    # Verify even for an unknown email, so timing does not reveal which emails exist.
    password_matches = await verify_password(user.password_hash if user else None, body.password)
    if user is None or not password_matches:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Wrong email or password")
    with session_store("login"):
        refresh_token = await resources.refresh_tokens.issue(user.id)
    return _token_pair(resources, user.id, refresh_token)


@router.post("/refresh", responses={**UNAUTHORIZED, **UNAVAILABLE})
async def refresh(body: RefreshRequest, request: Request) -> TokenPair:
    """Exchange a refresh token for a new pair; the presented token stops working."""
    resources = resources_of(request)
    with session_store("refresh"):
        rotated = await resources.refresh_tokens.rotate(body.refresh_token)
    if rotated is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "Refresh token is invalid, expired, used or revoked"
        )
    session, new_refresh_token = rotated
    return _token_pair(resources, session.user_id, new_refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=UNAVAILABLE)
async def logout(body: RefreshRequest, request: Request) -> None:
    """Revoke the refresh token; access tokens already issued expire on their own."""
    with session_store("logout"):
        await resources_of(request).refresh_tokens.revoke(body.refresh_token)


@functools.cache
def _trusted(entries: tuple[str, ...]) -> Networks:
    return tuple(parse_networks(entries))


def _token_pair(resources: Resources, user_id: int, refresh_token: str) -> TokenPair:
    return TokenPair(
        access_token=resources.access_tokens.issue(user_id),
        refresh_token=refresh_token,
        expires_in=resources.access_tokens.ttl_seconds,
    )
