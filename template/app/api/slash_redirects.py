"""A path that differs from a route only by a trailing slash: a relative redirect.

Starlette's router answers ``GET /api/v1/items/`` itself with ``307 Location:
http://<Host>/api/v1/items``: an absolute URL whose scheme the service guesses (``http``,
behind a TLS load balancer) and whose host the client chose. This fallback, run only
when no route matched, answers the same 307 with the path and query alone, which the
client resolves against the URL it asked for: same scheme, same host, no name from a
header. Every other unmatched path gets the router's usual 404.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import Match, Router
from starlette.types import Receive, Scope, Send

QUERY_SAFE = "%=&+;,/?:@!$'()*-._~"


def redirect_slashes_relatively(router: Router) -> None:
    """Replace ``router``'s absolute slash redirects with relative ones."""
    not_found = router.default

    async def redirect_or_not_found(scope: Scope, receive: Receive, send: Send) -> None:
        location = _slash_twin(router, scope) if scope["type"] == "http" else None
        if location is None:
            await not_found(scope, receive, send)
            return
        response = Response(status_code=307, headers={"location": location})
        await response(scope, receive, send)

    router.redirect_slashes = False
    router.default = redirect_or_not_found


def _slash_twin(router: Router, scope: Scope) -> str | None:
    """The relative URL of the route ``scope``'s path names up to its trailing slash."""
    path: str = scope["path"]
    twin = path.rstrip("/") if path.endswith("/") else f"{path}/"
    # Never "//host...": a client reads that as another host's URL.
    if not twin.startswith("/") or twin.startswith("//") or twin == "/":
        return None
    twin_scope = {**scope, "path": twin}
    if all(route.matches(twin_scope)[0] is Match.NONE for route in router.routes):
        return None
    query = scope.get("query_string", b"").decode("latin-1")
    # Already percent-encoded by the client: quote only what a header must not carry.
    return quote(twin) + (f"?{quote(query, safe=QUERY_SAFE)}" if query else "")
