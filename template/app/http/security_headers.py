"""Security headers on every response, from a few precomputed lists (no per-request work
beyond finding the content type).

- ``X-Content-Type-Options: nosniff``: browsers never guess a type (a JSON body is not HTML).
- ``Content-Security-Policy``: the API's answers load nothing and may not be framed
  (``default-src 'none'; frame-ancestors 'none'``). HTML pages get a policy of their own:
  the landing page may load the static assets' origin, and /docs and /redoc the scripts
  FastAPI loads from jsDelivr (they are off in production unless API_DOCS_ENABLED).
- ``X-Frame-Options: DENY`` for browsers that predate frame-ancestors; ``Referrer-Policy:
  no-referrer``: URLs (with ids and cursors) never leak to other sites.
- ``Strict-Transport-Security`` (HSTS_MAX_AGE_SECONDS) in production, where clients reach
  the service over TLS at the CDN or load balancer, and on any request that came over https.

A response that sets its own Content-Security-Policy keeps it.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Headers = list[tuple[bytes, bytes]]

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
DOCS_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; connect-src 'self'; worker-src blob:; frame-ancestors 'none'"
)


def page_policy(static_url: str) -> str:
    """HTML pages load styles and images from the static assets' origin (the CDN) only."""
    parts = urlsplit(static_url)
    source = f"{parts.scheme}://{parts.netloc}" if parts.netloc else "'self'"
    return (
        f"default-src 'none'; style-src {source}; img-src {source}; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


class SecurityHeadersMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        static_url: str = "/static",
        docs_paths: Collection[str] = (),
        hsts_max_age_seconds: int = 0,
        hsts_on_plain_http: bool = False,
    ) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)
        self.hsts_on_plain_http = hsts_on_plain_http and hsts_max_age_seconds > 0
        common: Headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ]
        hsts: Headers = (
            [(b"strict-transport-security", f"max-age={hsts_max_age_seconds}".encode())]
            if hsts_max_age_seconds
            else []
        )
        # (policy name, with HSTS) -> the headers to add.
        self.lists: dict[tuple[str, bool], Headers] = {}
        for kind, policy in (
            ("api", API_POLICY),
            ("page", page_policy(static_url)),
            ("docs", DOCS_POLICY),
        ):
            csp = (b"content-security-policy", policy.encode())
            self.lists[kind, False] = [*common, csp]
            self.lists[kind, True] = [*common, csp, *hsts]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with_hsts = self.hsts_on_plain_http or scope.get("scheme") == "https"
        docs = scope["path"] in self.docs_paths

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: Headers = list(message.get("headers", ()))
                message["headers"] = headers
                kind = "docs" if docs else "api"
                for name, value in headers:
                    if name == b"content-security-policy":
                        kind = ""
                        break
                    if name == b"content-type" and value.startswith(b"text/html") and not docs:
                        kind = "page"
                if kind:
                    headers.extend(self.lists[kind, with_hsts])
                else:  # the route chose its own policy: add the rest
                    headers.extend(
                        header
                        for header in self.lists["api", with_hsts]
                        if header[0] != b"content-security-policy"
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)
