"""Prometheus metrics: per-route request rate, errors and latency, and DB pool usage.

Everything lives in prometheus_client's default registry, so metrics defined by other
modules (cache, replicas, jobs) appear on ``GET /metrics`` without wiring. With
METRICS_PORT set, ``python -m app.server`` serves them on that port alone
(``serve_on_metrics_port``; the load balancer routes only PORT, where /metrics is then
404); with 0 it is a route of the app, except in production (then not served at all). Routes are
labelled by their template (``app.http.observed.route_of``), never the raw path, so the
number of series stays bounded whatever clients request.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

if TYPE_CHECKING:
    from app.http.observed import CompletedRequest

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


def serve_on_metrics_port(port: int) -> Callable[[], None]:
    """Serve the registry on ``port`` from a daemon thread (prometheus_client's WSGI
    server, which answers the metrics on every path); returns the function that stops it.

    A thread, not the event loop: a scrape never waits behind requests, and the server
    (Granian) binds one port, which only the load balancer's traffic reaches.
    """
    server, _thread = start_http_server(port, addr="0.0.0.0")  # noqa: S104 - the VPC's scraper
    return server.shutdown


class RequestMetrics:
    """Request rate, errors and latency per route, fed by ObservedRequestsMiddleware.

    Each (method, route, status) series is looked up once and kept: ``labels()`` formats
    and locks on every call, and the series are bounded by the route templates anyway.
    """

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def request_started(self) -> None:
        HTTP_REQUESTS_IN_PROGRESS.inc()

    def request_finished(self, request: CompletedRequest) -> None:
        HTTP_REQUESTS_IN_PROGRESS.dec()
        key = (request.method, request.route, request.status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                HTTP_REQUESTS.labels(request.method, request.route, str(request.status)),
                HTTP_REQUEST_DURATION.labels(request.method, request.route),
            )
        series[0].inc()
        series[1].observe(request.duration_seconds)


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
