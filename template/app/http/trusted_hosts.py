"""Trusted hosts: a request whose Host header is not one of ALLOWED_HOSTS gets 400.

Nothing the service builds (links, redirects, cache keys at the CDN) can then carry a
host name an attacker chose. Health checks are exempt: load balancers send the target's
own address as Host (the ALB its private IP), and the answer names no host.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from starlette.types import ASGIApp, Receive, Scope, Send

HEALTH_PATHS = frozenset({"/healthz", "/readyz"})
_REFUSED = (
    b'{"detail":"Unknown Host header: this service answers only for the host names in '
    b'its ALLOWED_HOSTS setting"}'
)
# What RFC 9110 allows in Host: a name (or IPv4 address), or an IPv6 address in brackets,
# then an optional :port of digits. Anything else (localhost:@evil.com, user@host, a
# second colon) is no host of ours, whatever its first part says.
_HOST = re.compile(r"(?:([a-z0-9.-]+)|\[([0-9a-f:.]+)\])(?::[0-9]*)?", re.IGNORECASE)


def host_name(host: str) -> str | None:
    """The name part of a Host header value (no port, no IPv6 brackets, lower case), or
    None when the value is not ``host[:port]``."""
    match = _HOST.fullmatch(host)
    if match is None:
        return None
    return (match[1] or match[2]).lower()


class TrustedHostMiddleware:
    """Installed only when ALLOWED_HOSTS is not '*'; a set lookup per request."""

    def __init__(
        self,
        app: ASGIApp,
        allowed_hosts: Collection[str],
        exempt_paths: Collection[str] = HEALTH_PATHS,
    ) -> None:
        self.app = app
        self.names = frozenset(host for host in allowed_hosts if not host.startswith("*."))
        # "*.example.com" allows every subdomain (not example.com itself, list it too).
        self.suffixes = tuple(host[1:] for host in allowed_hosts if host.startswith("*."))
        self.exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        host = b""
        for header, value in scope["headers"]:
            if header == b"host":
                host = value
                break
        name = host_name(host.decode("latin-1"))
        if name is not None and (
            name in self.names or (self.suffixes and name.endswith(self.suffixes))
        ):
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(_REFUSED)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _REFUSED})
