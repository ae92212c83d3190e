"""The jobs queue depth, logged as a CloudWatch Embedded Metric Format line for autoscaling.

CPU says nothing about a backlog: idle consumers waiting on a slow dependency use none,
yet jobs pile up. So the worker reports the number of jobs waiting (in the broker's work
queue, plus outbox rows due but not yet handed to the broker) every
JOBS_DEPTH_REPORT_SECONDS, as one JSON line on stdout. CloudWatch Logs turns that line
into the metric ``<METRICS_NAMESPACE>/JobsQueueDepth`` (dimension Service=SERVICE_NAME)
with no agent and no PutMetricData call, and the worker's scaling policy tracks it.
Specification: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.types import utc_now
from app.jobs.brokers import Broker
from app.jobs.outbox import OutboxMessage

logger = logging.getLogger(__name__)

METRIC_NAME = "JobsQueueDepth"


def emf_line(depth: int, *, namespace: str, service: str, timestamp_ms: int | None = None) -> str:
    """One EMF log event: the ``_aws`` metadata, the dimension value and the metric value."""
    document = {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [["Service"]],
                    "Metrics": [{"Name": METRIC_NAME, "Unit": "Count"}],
                }
            ],
        },
        "Service": service,
        METRIC_NAME: depth,
    }
    return json.dumps(document, separators=(",", ":"))


def _write_stdout(line: str) -> None:
    # Straight to stdout, not through the log formatter: EMF wants these keys at the root.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class DepthReporter:
    def __init__(
        self,
        broker: Broker,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        namespace: str = "tenfold",
        service: str = "app",
        interval_seconds: float = 30.0,
        write: Callable[[str], None] = _write_stdout,
    ) -> None:
        self._broker = broker
        self._session_factory = session_factory
        self._namespace = namespace
        self._service = service
        self._interval_seconds = interval_seconds
        self._write = write

    async def depth(self) -> int:
        """Jobs waiting: ready in the broker's queue plus outbox rows due and unsent."""
        async with self._session_factory() as session:
            due_unsent = await session.scalar(
                select(func.count()).where(
                    OutboxMessage.sent_at.is_(None), OutboxMessage.available_at <= utc_now()
                )
            )
        return await self._broker.depth() + int(due_unsent or 0)

    async def report(self) -> int:
        depth = await self.depth()
        self._write(emf_line(depth, namespace=self._namespace, service=self._service))
        return depth

    async def run(self, stop: asyncio.Event) -> None:
        """Report every ``interval_seconds`` until ``stop``; a failed measurement is skipped
        (no line rather than a wrong zero, which would scale the workers in)."""
        while not stop.is_set():
            try:
                await self.report()
            except Exception as error:  # noqa: BLE001 - broker or database down: try next time
                logger.warning("jobs depth report skipped: %r", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval_seconds)
