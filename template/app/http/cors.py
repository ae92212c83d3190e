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

from app.db.read_your_writes import READ_AFTER_LSN_HEADER
from app.settings import Settings

ALLOWED_METHODS = ("GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS")
# Every request header the API reads: If-Match for optimistic concurrency on PATCH and
# DELETE, X-Read-After-LSN to read one's own writes (the cookie needs credentials).
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    READ_AFTER_LSN_HEADER,
    "X-Request-ID",
)
# Every response header a browser script needs beyond the CORS-safelisted ones: the ETag
# to send back in If-Match, the token to send back in X-Read-After-LSN, where a created
# item lives, when to retry, and the id to quote in a bug report.
EXPOSED_HEADERS = ("ETag", "Location", "Retry-After", READ_AFTER_LSN_HEADER, "X-Request-ID")
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
