"""HEAD on every GET route: the GET's status and headers, without its body (RFC 9110, 9.3.2).

FastAPI registers a GET route for GET alone, so HEAD got 405. This layer hands a HEAD
request to the application as a GET and drops the body on the way out, so the headers
are exactly the GET's: its ETag, Content-Length, Content-Encoding and Cache-Control.
It sits outside the compression and ETag layers, which then see a plain GET.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        # The scope itself, not a copy: routing records the matched route in it, which
        # the metrics and the access log outside this layer read (as HEAD, restored below).
        scope["method"] = "GET"
        try:
            await self.app(scope, receive, send_without_body)
        finally:
            scope["method"] = "HEAD"
