"""Profile one request on demand with pyinstrument.

Send ``?profile=1`` (or ``X-Profile: 1``) with ``X-Admin-Token: <ADMIN_TOKEN>`` and the
response is pyinstrument's HTML call tree of that request instead of its body. Off
unless ``PROFILING_ENABLED`` is true and ``ADMIN_TOKEN`` is set; anyone else's
``profile`` parameter is ignored, so it cannot be used to slow the service down.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from pyinstrument import Profiler
from starlette.datastructures import Headers
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ProfilingMiddleware:
    def __init__(self, app: ASGIApp, *, admin_token: str, interval_seconds: float = 0.001) -> None:
        self.app = app
        self._admin_token = admin_token.encode()
        self._interval_seconds = interval_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._wants_profile(scope):
            await self.app(scope, receive, send)
            return
        profiler = Profiler(interval=self._interval_seconds, async_mode="enabled")
        profiler.start()
        try:
            await self.app(scope, receive, _discard)
        finally:
            profiler.stop()
        await HTMLResponse(profiler.output_html())(scope, receive, send)

    def _wants_profile(self, scope: Scope) -> bool:
        headers = Headers(scope=scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        asked = headers.get("x-profile") == "1" or query.get("profile") == ["1"]
        token = headers.get("x-admin-token", "").encode()
        return asked and hmac.compare_digest(token, self._admin_token)


async def _discard(_message: Message) -> None:
    """The profiled response is replaced by the profile."""
