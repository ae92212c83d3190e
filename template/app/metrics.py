"""Prometheus metrics: per-route request rate, errors and latency, and DB pool usage.

Everything lives in prometheus_client's default registry, so metrics defined by other
modules (cache, replicas, jobs) appear on ``GET /metrics`` without wiring. Routes are
labelled by their template (``/api/v1/items/{item_id}``), never the raw path, so the
number of series stays bounded whatever clients request.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED_ROUTE = "<unmatched>"

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from request start to the last response byte.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_REQUESTS_IN_PROGRESS = Gauge("http_requests_in_progress", "HTTP requests being served.")

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def route_of(scope: Scope) -> str:
    """The matched route's full path template, or a fixed label when nothing matched.

    FastAPI puts the route itself in the scope, with its path relative to the router it
    was declared on (``/items/{item_id}``); the router prefixes in front of it are the
    leading segments of the requested path (``/api/v1``), which are static here.
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


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        HTTP_REQUESTS_IN_PROGRESS.inc()
        try:
            await self.app(scope, receive, recording_send)
        finally:
            HTTP_REQUESTS_IN_PROGRESS.dec()
            method, route = scope["method"], route_of(scope)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_REQUEST_DURATION.labels(method, route).observe(time.perf_counter() - started)


class DatabasePoolCollector(Collector):
    """Reads pool usage of every tracked engine at scrape time (no per-request cost)."""

    def __init__(self) -> None:
        self._engines: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()

    def track(self, name: str, engine: AsyncEngine) -> None:
        """Report ``engine``'s pool as ``pool=name`` until the engine is garbage-collected."""
        self._engines[engine.sync_engine] = name

    def collect(self) -> Iterator[GaugeMetricFamily]:
        checked_out = GaugeMetricFamily(
            "db_pool_checked_out_connections", "Connections lent to requests.", labels=["pool"]
        )
        size = GaugeMetricFamily(
            "db_pool_size_connections", "Connections the pool keeps open.", labels=["pool"]
        )
        overflow = GaugeMetricFamily(
            "db_pool_overflow_connections",
            "Connections opened above the pool size.",
            labels=["pool"],
        )
        for engine, name in list(self._engines.items()):
            pool = engine.pool
            # QueuePool (and its async variant) has these; in-memory SQLite's StaticPool not.
            if isinstance(pool, QueuePool):
                checked_out.add_metric([name], pool.checkedout())
                size.add_metric([name], pool.size())
                overflow.add_metric([name], max(pool.overflow(), 0))
        yield from (checked_out, size, overflow)


DATABASE_POOLS = DatabasePoolCollector()
REGISTRY.register(DATABASE_POOLS)
