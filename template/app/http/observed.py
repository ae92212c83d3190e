"""One middleware observes every HTTP request: its id, its metrics and its access log line.

Metrics and the access log want the same facts: route template, status and duration,
and every log line wants the request id. One pure-ASGI layer gives all three, with one
timer, one ``send`` wrapper and one route lookup per request, instead of a layer each
(each wrapping ``send`` again). The id is the caller's ``X-Request-ID`` when it is sane,
else a new one (app/http/request_id.py); it is echoed in the response and kept in
``request_id_var`` so logs, and jobs enqueued by the request, carry it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.request_id import REQUEST_ID_HEADER, request_id_from
from app.observability.request_context import request_id_var

UNMATCHED_ROUTE = "<unmatched>"


@dataclass(frozen=True, slots=True)
class CompletedRequest:
    method: str
    route: str
    status: int
    duration_seconds: float


class RequestObserver(Protocol):
    def request_started(self) -> None: ...

    def request_finished(self, request: CompletedRequest) -> None: ...


def route_of(scope: Scope) -> str:
    """The matched route's full path template, or a fixed label when nothing matched.

    Labels and log fields use the template (``/api/v1/items/{item_id}``), never the raw
    path, so their number stays bounded whatever clients request. FastAPI puts the route
    itself in the scope, with its path relative to the router it was declared on
    (``/items/{item_id}``); the router prefixes in front of it are the leading segments of
    the requested path (``/api/v1``), which are static here.
    """
    path = getattr(scope.get("route"), "path", None)
    if not isinstance(path, str):
        return UNMATCHED_ROUTE
    if ":path}" in path:  # a mount or catch-all: its own template is the bounded label
        return path
    route_segments = path.count("/")
    if route_segments == 0:  # "" on a prefixed router: the requested path is the template
        return str(scope["path"])
    requested = scope["path"].split("/")
    return "/".join(requested[: len(requested) - route_segments]) + path


class ObservedRequestsMiddleware:
    def __init__(self, app: ASGIApp, observers: Sequence[RequestObserver]) -> None:
        self.app = app
        self.observers = tuple(observers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = request_id_from(incoming)
        id_header = (REQUEST_ID_HEADER, request_id.encode())
        status = 500  # what the client gets when the app raises before responding
        started = time.perf_counter()

        async def observing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message["headers"], id_header]
            await send(message)

        token = request_id_var.set(request_id)
        for observer in self.observers:
            observer.request_started()
        try:
            await self.app(scope, receive, observing_send)
        finally:
            completed = CompletedRequest(
                scope["method"], route_of(scope), status, time.perf_counter() - started
            )
            for observer in self.observers:
                observer.request_finished(completed)
            request_id_var.reset(token)
