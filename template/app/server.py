"""The production server: ``python -m app.server`` runs Granian, embedded in our uvloop loop.

Granian parses HTTP in Rust and hands each request to the app on this process's event
loop. Chosen by measurement (two processes, wrk with 64 connections, interleaved rounds):
on this service's ``/healthz`` it served about 3x the req/s of uvicorn (httptools) and
6x Hypercorn's. It speaks HTTP/1.1; on AWS, HTTP/2 ends at CloudFront and the ALB, which
speak HTTP/1.1 to the service. SERVER_HTTP2_CLEARTEXT adds h2c on the same port (see
its description for what that costs). The embedded server is what lets the drain below
decide when to stop.

The connection budget is one number, SERVER_MAX_CONNECTIONS: Granian serves that many
connections at once (its backpressure) and keeps as many more waiting in the listen
queue (its backlog); HAProxy's per-server maxconn is the same number. Every connection
must deliver a complete request head within SERVER_IDLE_TIMEOUT_SECONDS of opening or
of its last answer, or it is closed: silent, slow and idle clients hold a slot that
long at most, so a client that waits in the queue is served within about that time.
Granian's default was 128 connections held up to 30 s, and with HTTP/2 on, a silent
connection was held for ever.

One process per container (ECS scales by tasks). Several processes on one machine share
the port (Granian binds with SO_REUSEPORT and the kernel spreads connections).

On SIGTERM (or Ctrl-C) it drains in three steps:

1. /readyz answers 503 ``draining`` while the server keeps serving, for
   ``DRAIN_DELAY_SECONDS``, so the load balancer stops routing new requests here;
2. the listener closes and in-flight requests get ``DRAIN_TIMEOUT_SECONDS`` to finish;
3. the app's lifespan closes its pools and the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server.embed import Server
from starlette.applications import Starlette

from app import event_loop
from app.event_loop import stop_requested_by_signals
from app.lifecycle import lifecycle_of
from app.limits import open_files_limit, required_open_files
from app.main import create_app
from app.observability.metrics import serve_on_metrics_port
from app.settings import Settings

logger = logging.getLogger(__name__)

# Granian's own loggers go through the app's renderer, so every line has
# one shape; its access log stays off: app/observability/logging.py writes one line per
# request.
GRANIAN_LOGGING: dict[str, Any] = {
    "loggers": {
        "_granian": {"handlers": [], "propagate": True},
        "granian.access": {"handlers": [], "propagate": True},
    }
}


def granian_server(app: Starlette, settings: Settings) -> Server:
    server = Server(
        app,
        # Inside a container the port must be reachable from outside it.
        address="0.0.0.0",  # noqa: S104
        port=settings.port,
        interface=Interfaces.ASGI,
        http=HTTPModes.auto if settings.server_http2_cleartext else HTTPModes.http1,
        websockets=False,
        # The connection budget: served at once, then waiting in the kernel's queue.
        backpressure=settings.server_max_connections,
        backlog=settings.server_max_connections,
        http1_settings=HTTP1Settings(
            header_read_timeout=math.ceil(settings.server_idle_timeout_seconds * 1000)
        ),
        log_level=LogLevels.warning,
        log_dictconfig=GRANIAN_LOGGING,
        log_access=False,
    )
    # How long a stopping worker may take to finish its in-flight requests.
    server.workers_kill_timeout = math.ceil(settings.drain_timeout_seconds)
    return server


def warn_if_open_files_too_low(settings: Settings) -> bool:
    """Log a warning when ``ulimit -n`` is below what the connection settings need."""
    limit, required = open_files_limit(), required_open_files(settings)
    if limit >= required:
        return False
    logger.warning(
        "open-files limit %s is below the %s the connection settings need (app/limits.py); "
        "expect 'Too many open files' under load: raise it (ulimit -n, LimitNOFILE, nofile)",
        limit,
        required,
    )
    return True


async def serve_until_drained(settings: Settings, app: Starlette | None = None) -> None:
    """Serve ``app`` (the service by default) until a stop signal, then drain and return.

    ``bench.ceiling`` serves its bare app through this same function, so the ceiling
    ``make bench`` compares with runs on the same server, loop and drain.
    """
    app = app if app is not None else create_app(settings)
    warn_if_open_files_too_low(settings)
    stop_requested = stop_requested_by_signals()
    lifecycle = lifecycle_of(app)
    server = granian_server(app, settings)

    async def drain() -> None:
        await stop_requested.wait()
        lifecycle.start_draining()
        logger.info(
            "draining: readiness fails, still serving",
            extra={"drain_delay_seconds": settings.drain_delay_seconds},
        )
        await asyncio.sleep(settings.drain_delay_seconds)
        logger.info("draining: closing the listener, finishing in-flight requests")
        server.stop()  # type: ignore[no-untyped-call]  # granian's embed API is untyped

    # /metrics for the scraper inside the VPC, on a port the load balancer never routes.
    stop_metrics = serve_on_metrics_port(settings.metrics_port) if settings.metrics_port else None
    drainer = asyncio.create_task(drain())
    try:
        await server.serve()
    finally:
        drainer.cancel()
        if stop_metrics is not None:
            stop_metrics()
    logger.info("drained: exiting")


def main() -> None:
    event_loop.run(serve_until_drained(Settings()))


if __name__ == "__main__":
    main()
