"""The caller's own account."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from app.api.deps import CurrentUserId, WriteSession
from app.api.strict_json import StrictJsonRoute
from app.repositories import users
from app.schemas.errors import error_responses
from app.schemas.users import UserOut

router = APIRouter(prefix="/users", tags=["users"], route_class=StrictJsonRoute)


@router.get("/me", responses=error_responses(401))
async def me(user_id: CurrentUserId, session: WriteSession) -> UserOut:
    user = await users.get_user(session, user_id)
    if user is None:
        # A valid token for an account deleted since it was issued.
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "Account no longer exists", {"WWW-Authenticate": "Bearer"}
        )
    return UserOut.model_validate(user)
