"""Cache-Control for browsers and the CDN: public where it is safe, private elsewhere.

Routes opt in to public caching with the ``PublicCacheControl`` dependency (app/api/deps.py)
(``public, max-age=PUBLIC_MAX_AGE_SECONDS, s-maxage=CDN_S_MAXAGE_SECONDS``), so
CloudFront can answer repeated catalog reads without the service. Everything else,
and every request that carries credentials or gets a cookie back, is
``private, no-store``: a shared cache must never keep one user's response for another.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PRIVATE = "private, no-store"
PRIVATE_PATH_PREFIXES = ("/api/v1/auth", "/api/v1/me", "/api/v1/users")


class CacheControlMiddleware:
    """Keeps a route's public Cache-Control only when nothing about the exchange is private."""

    def __init__(
        self, app: ASGIApp, *, private_path_prefixes: tuple[str, ...] = PRIVATE_PATH_PREFIXES
    ) -> None:
        self.app = app
        self.private_path_prefixes = private_path_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private_request = (
            scope["method"] not in ("GET", "HEAD")
            or "authorization" in Headers(scope=scope)
            or str(scope["path"]).startswith(self.private_path_prefixes)
        )

        async def send_with_cache_control(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if private_request or "set-cookie" in headers or "cache-control" not in headers:
                    headers["Cache-Control"] = PRIVATE
            await send(message)

        await self.app(scope, receive, send_with_cache_control)
