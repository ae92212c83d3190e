"""HTTP routes; ``api_router`` mounts every versioned route under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from app.api import auth, items, users

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(auth.router)
api_router.include_router(users.router)
api_router.include_router(items.router)
