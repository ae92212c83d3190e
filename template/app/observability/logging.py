"""Structured logs: one JSON object per line, with the request id on every line.

structlog renders both its own events and standard-library records (SQLAlchemy,
Granian, ``logging.getLogger(__name__)``), so every line has one shape. The access
log is one ``request`` event per request with method, route, status and duration.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from app.observability.request_context import request_id_var
from app.observability.tracing import add_trace_ids

if TYPE_CHECKING:
    from app.http.observed import CompletedRequest

access_log = structlog.stdlib.get_logger("app.access")


def _add_request_id(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    request_id = request_id_var.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def _orjson_dumps(value: Any, **_kwargs: Any) -> str:
    return orjson.dumps(value, default=str).decode()


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is now (test capture swaps it); being our own
    class also lets reconfiguring replace only this handler."""

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(*, level: str = "INFO", json: bool = True) -> None:
    """Route structlog and standard logging through one renderer on stdout (idempotent)."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_request_id,
        add_trace_ids,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if json
        else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = _StdoutHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StdoutHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


class AccessLog:
    """One ``request`` line per request, fed by ObservedRequestsMiddleware."""

    def request_started(self) -> None:
        """Nothing to log until the response is done."""

    def request_finished(self, request: CompletedRequest) -> None:
        access_log.info(
            "request",
            method=request.method,
            route=request.route,
            status=request.status,
            duration_ms=round(request.duration_seconds * 1000, 2),
        )
