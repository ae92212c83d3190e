"""HTTP routes; ``api_router`` mounts every versioned route under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from app.api import auth, items, users
from app.schemas.errors import error_responses

# Any route may get a malformed body (400) or one over the size limit (413).
api_router = APIRouter(prefix="/api/v1", responses=error_responses(400, 413))
# The router tries routes in order: the hot catalog and item reads first.
api_router.include_router(items.router)
api_router.include_router(auth.router)
api_router.include_router(users.router)
