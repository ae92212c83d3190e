"""CORS: off unless CORS_ALLOW_ORIGINS names the browser origins allowed to call the API.

Without the middleware a browser on another origin can still send simple requests but
never reads the answers, and every preflight fails: the safe default for an API whose
clients are servers, mobile apps or its own origin. Listed origins are echoed back and
may send credentials (cookies such as read_after_lsn, the Authorization header); '*'
allows any origin and therefore never allows credentials (browsers refuse the pair,
and it would let any site act as the logged-in user).
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from app.settings import Settings

ALLOWED_METHODS = ("GET", "POST", "PATCH", "DELETE", "OPTIONS")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "If-None-Match", "X-Request-ID")
EXPOSED_HEADERS = ("ETag", "Location", "Retry-After", "X-Request-ID")
PREFLIGHT_MAX_AGE_SECONDS = 600


def cors(settings: Settings) -> Middleware | None:
    """The CORS middleware for the configured origins, or None when CORS is off."""
    origins = settings.cors_allow_origins
    if not origins:
        return None
    return Middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_credentials=origins != ["*"],
        allow_methods=ALLOWED_METHODS,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        max_age=PREFLIGHT_MAX_AGE_SECONDS,
    )
