"""The production server: ``python -m app.server`` runs Hypercorn on uvloop.

Hypercorn speaks HTTP/1.1 and HTTP/2 on one port (h2c with prior knowledge behind the
load balancer, h2 when given TLS). On SIGTERM (or Ctrl-C) it drains in three steps:

1. /readyz answers 503 ``draining`` while the server keeps serving, for
   ``DRAIN_DELAY_SECONDS``, so the load balancer stops routing new requests here;
2. the listener closes and in-flight requests get ``DRAIN_TIMEOUT_SECONDS`` to finish;
3. the app's lifespan closes its pools and the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, cast

from hypercorn.asyncio import serve
from hypercorn.config import Config

from app import event_loop
from app.event_loop import stop_requested_by_signals
from app.lifecycle import lifecycle_of
from app.limits import open_files_limit, required_open_files
from app.main import create_app
from app.settings import Settings

if TYPE_CHECKING:
    from hypercorn.typing import Framework

logger = logging.getLogger(__name__)


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    # Inside a container the port must be reachable from outside it.
    config.bind = [f"0.0.0.0:{settings.port}"]
    # app/observability/logging.py writes one line per request; Hypercorn's would repeat it.
    config.accesslog = None
    config.errorlog = "-"
    config.graceful_timeout = settings.drain_timeout_seconds
    return config


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


async def serve_until_drained(settings: Settings) -> None:
    app = create_app(settings)
    warn_if_open_files_too_low(settings)
    stop_requested = stop_requested_by_signals()

    lifecycle = lifecycle_of(app)

    async def drain() -> None:
        await stop_requested.wait()
        lifecycle.start_draining()
        logger.info(
            "draining: readiness fails, still serving",
            extra={"drain_delay_seconds": settings.drain_delay_seconds},
        )
        await asyncio.sleep(settings.drain_delay_seconds)
        logger.info("draining: closing the listener, finishing in-flight requests")

    await serve(cast("Framework", app), hypercorn_config(settings), shutdown_trigger=drain)
    logger.info("drained: exiting")


def main() -> None:
    event_loop.run(serve_until_drained(Settings()))


if __name__ == "__main__":
    main()
