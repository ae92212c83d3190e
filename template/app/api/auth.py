"""Register, log in, refresh and log out."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

from app.auth.passwords import hash_password, verify_password
from app.db.session import Session
from app.repositories import users
from app.schemas.auth import Credentials, RefreshRequest, TokenPair
from app.schemas.users import UserOut
from app.state import Resources, resources_of

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(body: Credentials, session: Session) -> UserOut:
    try:
        user = await users.create_user(session, body.email, await hash_password(body.password))
    except users.EmailTakenError:
        raise HTTPException(
            status.HTTP_409_CONFLICT, "An account with this email already exists"
        ) from None
    return UserOut.model_validate(user)


@router.post("/login")
async def login(body: Credentials, request: Request, session: Session) -> TokenPair:
    user = await users.find_user_by_email(session, body.email)
    # Verify even for an unknown email, so timing does not reveal which emails exist.
    password_matches = await verify_password(user.password_hash if user else None, body.password)
    if user is None or not password_matches:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Wrong email or password")
    resources = resources_of(request)
    return await _token_pair(resources, user.id, await resources.refresh_tokens.issue(user.id))


@router.post("/refresh")
async def refresh(body: RefreshRequest, request: Request) -> TokenPair:
    """Exchange a refresh token for a new pair; the presented token stops working."""
    resources = resources_of(request)
    rotated = await resources.refresh_tokens.rotate(body.refresh_token)
    if rotated is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "Refresh token is invalid, expired, used or revoked"
        )
    session, new_refresh_token = rotated
    return await _token_pair(resources, session.user_id, new_refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, request: Request) -> None:
    """Revoke the refresh token; access tokens already issued expire on their own."""
    await resources_of(request).refresh_tokens.revoke(body.refresh_token)


async def _token_pair(resources: Resources, user_id: int, refresh_token: str) -> TokenPair:
    return TokenPair(
        access_token=resources.access_tokens.issue(user_id),
        refresh_token=refresh_token,
        expires_in=resources.access_tokens.ttl_seconds,
    )
