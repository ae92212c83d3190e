"""The whole HTTP middleware stack, outermost first, in one place so its order is visible."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware import Middleware

from app.http.body_limit import BodyLimitMiddleware
from app.http.cache_control import CacheControlMiddleware
from app.http.compression import compression
from app.http.cors import cors
from app.http.etag import ETagMiddleware
from app.http.head import HeadAsGetMiddleware
from app.http.observed import ObservedRequestsMiddleware
from app.http.security_headers import SecurityHeadersMiddleware
from app.http.server_errors import ServerErrorMiddleware
from app.http.trusted_hosts import TrustedHostMiddleware
from app.observability.logging import AccessLog
from app.observability.metrics import RequestMetrics
from app.observability.profiling import ProfilingMiddleware
from app.settings import Environment, Settings

# FastAPI's documentation pages (when API_DOCS_ENABLED): they get a policy of their own.
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")


def http_middleware(settings: Settings) -> list[Middleware]:
    stack = [
        # First, so every log line below it carries the request id: id, metrics, access log.
        Middleware(ObservedRequestsMiddleware, observers=(RequestMetrics(), AccessLog())),
        # Before the host check, so even its 400 carries them.
        Middleware(
            SecurityHeadersMiddleware,
            static_url=settings.static_url,
            docs_paths=DOCS_PATHS,
            hsts_max_age_seconds=settings.hsts_max_age_seconds,
            # Production clients reach the service over TLS (CDN, load balancer).
            hsts_on_plain_http=settings.environment is Environment.PRODUCTION,
        ),
        # Inside both: an unhandled error's 500 gets the request id and security headers.
        Middleware(ServerErrorMiddleware),
    ]
    if settings.allowed_hosts != ["*"]:
        stack.append(Middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts))
    cors_middleware = cors(settings)
    if cors_middleware is not None:
        # Before the body limit, so even a refused request carries the CORS headers.
        stack.append(cors_middleware)
    if settings.profiling_enabled and settings.admin_token is not None:
        stack.append(
            Middleware(ProfilingMiddleware, admin_token=settings.admin_token.get_secret_value())
        )
    stack += [
        # Outside compression and ETags: a HEAD gets exactly the GET's headers.
        Middleware(HeadAsGetMiddleware),
        Middleware(BodyLimitMiddleware, max_bytes=settings.max_request_body_bytes),
        compression(minimum_size_bytes=settings.compression_minimum_size_bytes),
        # Inside compression: the tag hashes the uncompressed body.
        Middleware(
            ETagMiddleware,
            compression_minimum_size_bytes=settings.compression_minimum_size_bytes,
        ),
        # Innermost, so the ETag (and 304s) are computed on what the route answered and
        # every layer above sees the final Cache-Control.
        Middleware(CacheControlMiddleware),
    ]
    return stack


def add_http_middleware(app: FastAPI, settings: Settings) -> None:
    # add_middleware wraps: the last added is the outermost, so add innermost first.
    for middleware in reversed(http_middleware(settings)):
        app.add_middleware(middleware.cls, *middleware.args, **middleware.kwargs)
