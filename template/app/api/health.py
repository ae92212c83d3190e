"""Liveness and readiness for the load balancer.

/healthz says the process serves requests; it checks nothing else, so a database
outage never makes the orchestrator restart healthy processes. /readyz checks the
primary database, the one hard dependency, and that its schema is not behind the
code's migrations (app/db/schema.py), and says which check failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import text

from app.api.deps import resources_of
from app.lifecycle import lifecycle_of
from app.resources import Resources

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


class Check(BaseModel):
    # "degraded": a soft dependency (the cache) is down; the service still answers.
    status: Literal["ok", "degraded", "failing"]
    latency_ms: float
    error: str | None = None
    detail: str | None = None


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    checks: dict[str, Check]
    reason: str | None = None


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"model": Readiness}})
async def readyz(request: Request, response: Response) -> Readiness:
    if lifecycle_of(request.app).draining:
        # Shutting down: leave the load balancer before the listener closes.
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Readiness(status="unavailable", checks={}, reason="draining")
    resources = resources_of(request)
    checks = {"database": await _check_database(resources)}
    if checks["database"].status == "ok":
        checks["schema"] = await _check_schema(resources)
    # Soft dependencies are shown, never fatal: a lost cache is bypassed, and the outbox
    # holds jobs until the broker is back. Only the primary database takes us out of the LB.
    timeout = resources.settings.readiness_timeout_seconds
    if resources.settings.redis_url:
        checks["cache"] = await _check_soft_dependency("cache", resources.cache.ping, timeout)
    if resources.settings.broker_url:
        checks["broker"] = await _check_soft_dependency("broker", resources.jobs.ping, timeout)
    ready = all(check.status != "failing" for check in checks.values())
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(status="ready" if ready else "unavailable", checks=checks)


async def _check_database(resources: Resources) -> Check:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(resources.settings.readiness_timeout_seconds):
            async with resources.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except TimeoutError:
        return _failing(started, "timed out")
    except Exception as error:  # any failure means "not ready"
        # The response names the error type only; the full message may carry hostnames.
        logger.warning("readiness: database check failed", exc_info=error)
        return _failing(started, type(error).__name__)
    return Check(status="ok", latency_ms=_elapsed_ms(started))


async def _check_schema(resources: Resources) -> Check:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(resources.settings.readiness_timeout_seconds):
            schema = await resources.schema.status()
    except TimeoutError:
        return _failing(started, "timed out")
    except Exception as error:  # any failure means "not ready"
        logger.warning("readiness: schema check failed", exc_info=error)
        return _failing(started, type(error).__name__)
    if not schema.ready:
        return Check(
            status="failing", latency_ms=_elapsed_ms(started), error="behind", detail=schema.detail
        )
    return Check(status="ok", latency_ms=_elapsed_ms(started), detail=schema.detail)


async def _check_soft_dependency(
    name: str, ping: Callable[[], Awaitable[object]], timeout_seconds: float
) -> Check:
    """A soft dependency that does not answer is "degraded": requests still succeed without it."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_seconds):
            await ping()
    except TimeoutError:
        return Check(status="degraded", latency_ms=_elapsed_ms(started), error="timed out")
    except Exception as error:  # any failure means "degraded"
        logger.warning("readiness: %s check failed", name, exc_info=error)
        return Check(status="degraded", latency_ms=_elapsed_ms(started), error=type(error).__name__)
    return Check(status="ok", latency_ms=_elapsed_ms(started))


def _failing(started: float, error: str) -> Check:
    return Check(status="failing", latency_ms=_elapsed_ms(started), error=error)


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
