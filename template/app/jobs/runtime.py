"""Wires broker, relay and worker from settings, for the app process and the worker command.

``python -m app.jobs.worker`` runs ``main`` here: a worker and an outbox relay until
SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app import event_loop
from app.db.engine import create_engine
from app.db.session import create_session_factory
from app.jobs.brokers import Broker, create_broker
from app.jobs.depth import DepthReporter
from app.jobs.handlers import jobs
from app.jobs.heartbeat import Heartbeat
from app.jobs.outbox import Relay
from app.jobs.registry import JobRegistry
from app.jobs.worker import Worker
from app.observability.logging import configure_logging
from app.settings import Settings

logger = logging.getLogger(__name__)


class JobRuntime:
    """The relay (and, when asked, a worker) as background tasks of one process.

    The app process runs the relay so committed jobs go out at once; on the in-process
    broker it also runs the worker, since no other process can reach that queue.
    """

    def __init__(
        self,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        run_worker: bool,
        run_relay: bool = True,
        registry: JobRegistry = jobs,
        broker: Broker | None = None,
        engine: AsyncEngine | None = None,
    ) -> None:
        self.settings = settings
        self.broker = broker or create_broker(
            settings.broker_url_with_password,
            queue_name=settings.jobs_queue_name,
            prefetch_count=settings.jobs_prefetch_count,
            visibility_timeout_seconds=settings.jobs_visibility_timeout_seconds,
            connect_timeout_seconds=settings.jobs_publish_timeout_seconds,
        )
        self.relay = Relay(
            session_factory,
            self.broker,
            batch_size=settings.outbox_batch_size,
            interval_seconds=settings.outbox_relay_interval_seconds,
            max_backoff_seconds=settings.outbox_relay_max_backoff_seconds,
            publish_timeout_seconds=settings.jobs_publish_timeout_seconds,
            retention_seconds=settings.outbox_retention_seconds,
        )
        self.worker = Worker(
            self.broker,
            session_factory,
            registry,
            max_attempts=settings.jobs_max_attempts,
            retry_base_delay_seconds=settings.jobs_retry_base_delay_seconds,
            retry_max_delay_seconds=settings.jobs_retry_max_delay_seconds,
            max_backoff_seconds=settings.outbox_relay_max_backoff_seconds,
        )
        self.run_worker = run_worker
        self.run_relay = run_relay
        # The worker command's extras: health-check heartbeat and queue-depth metric.
        self.heartbeat: Heartbeat | None = None
        self.depth_reporter: DepthReporter | None = None
        self._engine = engine
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_app(
        cls, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
    ) -> JobRuntime:
        in_process = not settings.broker_url
        return cls(
            settings,
            session_factory,
            run_worker=in_process,
            run_relay=in_process or settings.outbox_relay_in_app,
        )

    @classmethod
    def from_settings(cls, settings: Settings, *, run_worker: bool) -> JobRuntime:
        """A runtime with its own engine (the worker command)."""
        engine = create_engine(settings.primary_database_url, settings)
        session_factory = create_session_factory(engine)
        runtime = cls(settings, session_factory, run_worker=run_worker, engine=engine)
        if run_worker:
            runtime.heartbeat = Heartbeat(
                Path(settings.worker_heartbeat_path),
                alive=lambda: runtime.worker.consuming,
                interval_seconds=min(5.0, settings.worker_heartbeat_max_age_seconds / 4),
            )
            if settings.jobs_depth_report_seconds > 0:
                runtime.depth_reporter = DepthReporter(
                    runtime.broker,
                    session_factory,
                    namespace=settings.metrics_namespace,
                    service=settings.service_name,
                    interval_seconds=settings.jobs_depth_report_seconds,
                )
        return runtime

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            if self.run_relay:
                group.create_task(self.relay.run(stop))
            if self.run_worker:
                group.create_task(self.worker.run(stop))
            if self.heartbeat is not None:
                group.create_task(self.heartbeat.run(stop))
            if self.depth_reporter is not None:
                group.create_task(self.depth_reporter.run(stop))

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self.run(self._stop))

    async def stop(self) -> None:
        """Let the job in hand finish, then stop the tasks and close the broker."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.close()

    async def ping(self) -> None:
        await self.broker.ping()

    async def close(self) -> None:
        await self.broker.close()
        if self._engine is not None:
            await self._engine.dispose()


async def serve(settings: Settings) -> None:
    """Run a worker and an outbox relay until SIGTERM or SIGINT."""
    runtime = JobRuntime.from_settings(settings, run_worker=True)
    stop = event_loop.stop_requested_by_signals()
    logger.info("worker started (broker: %s)", type(runtime.broker).__name__)
    try:
        await runtime.run(stop)
    finally:
        await runtime.close()
    logger.info("worker stopped")


def main() -> None:
    settings = Settings()
    # The same JSON lines as the app, so a job's lines carry the request id that enqueued it.
    configure_logging(level=settings.log_level, json=settings.log_json)
    event_loop.run(serve(settings))
