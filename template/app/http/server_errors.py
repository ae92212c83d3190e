"""An unhandled error gets its 500 inside the middleware stack, like every other answer.

Starlette answers an exception that nothing handled from its outermost layer, outside
every middleware here: that 500 had no ``X-Request-ID`` (nothing for the client to quote
in a bug report) and none of the security headers. This layer sits just inside the
request-id and security-header layers: it logs the error once, with its traceback and
the request id, and answers a JSON 500 that names the id, so both layers add their
headers on the way out. An error after the answer started cannot become a 500: it is
raised on, and the server ends the connection.
"""

from __future__ import annotations

import logging

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.cache_control import PRIVATE
from app.observability.request_context import request_id_var

logger = logging.getLogger(__name__)


class ServerErrorMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                raise
            logger.exception("unhandled error: answered 500")
            await send_internal_error(send)


async def send_internal_error(send: Send) -> None:
    request_id = request_id_var.get()
    detail = "Internal server error: the service failed to answer this request"
    if request_id is not None:
        detail += f"; quote request id {request_id} when you report it"
    body = orjson.dumps({"detail": detail})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", PRIVATE.encode()),
    ]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})
