"""Who is calling: the access token checked on every protected request.

The signature and claims need no store; whether its session was revoked is a dict lookup
most of the time (app/auth/revocations.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.tokens import InvalidAccessTokenError
from app.state import resources_of

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
    try:
        claims = resources_of(request).access_tokens.verify(credentials.credentials)
    except InvalidAccessTokenError as error:
        raise _unauthorized(
            "Invalid or expired access token; log in or refresh it", "invalid_token"
        ) from error
    if await resources_of(request).revoked_families.is_revoked(claims.family_id):
        raise _unauthorized("This session was logged out or revoked; log in again", "invalid_token")
    return claims.user_id


async def current_user_id(user_id: Annotated[int | None, Depends(optional_user_id)]) -> int:
    if user_id is None:
        raise _unauthorized("Not authenticated: send 'Authorization: Bearer <access token>'")
    return user_id


CurrentUserId = Annotated[int, Depends(current_user_id)]
OptionalUserId = Annotated[int | None, Depends(optional_user_id)]

# For routes that take OptionalUserId: the token is optional ({} is "no security"),
# so the document does not promise a 401 to anonymous callers. FastAPI appends this
# list to the bearer requirement it derives from the dependency.
OPTIONAL_AUTH_OPENAPI: dict[str, Any] = {"security": [{}]}
