"""The transactional outbox: jobs are rows written in the caller's transaction.

``enqueue(session, job, payload)`` adds a row to the session; it commits or rolls back
with the write it belongs to, so a job exists exactly when its write does. The
:class:`Relay` publishes due rows to the broker and marks them sent only after the broker
confirmed them; while the broker is down the rows wait, and the relay backs off.
On PostgreSQL it locks its batch with ``FOR UPDATE SKIP LOCKED``: several relays (every
app instance and worker runs one) share the work and never publish the same row twice
concurrently. Delivery is at least once overall; handlers dedupe on the job id.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Index, String, delete, event, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db.models import Base
from app.db.types import BigIntPrimaryKey, UTCDateTime, utc_now
from app.jobs import metrics
from app.jobs.brokers import Broker
from app.jobs.idempotency import ProcessedJob
from app.jobs.message import JobMessage
from app.observability.request_context import request_id_var

logger = logging.getLogger(__name__)


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # The relay's query: unsent rows by due time. Partial, so sent rows cost nothing.
        Index(
            "ix_outbox_pending",
            "available_at",
            "id",
            postgresql_where=text("sent_at IS NULL"),
            sqlite_where=text("sent_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPrimaryKey, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(36))
    job: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempt: Mapped[int] = mapped_column(default=1)
    request_id: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    def to_message(self) -> JobMessage:
        return JobMessage(
            id=self.job_id,
            job=self.job,
            payload=self.payload,
            attempt=self.attempt,
            request_id=self.request_id,
            ready_at=self.available_at.timestamp(),
        )


def enqueue(
    session: AsyncSession,
    job: str,
    payload: dict[str, Any],
    *,
    job_id: str | None = None,
    attempt: int = 1,
    delay_seconds: float = 0.0,
    request_id: str | None = None,
) -> str:
    """Add ``job`` to the outbox inside ``session``'s transaction; returns the job id.

    Nothing is published until the caller commits; a rollback discards the job too.
    The current request id travels with the job so its logs correlate.
    """
    now = utc_now()
    row = OutboxMessage(
        job_id=job_id or str(uuid.uuid4()),
        job=job,
        payload=payload,
        attempt=attempt,
        request_id=request_id or request_id_var.get(),
        created_at=now,
        available_at=now + timedelta(seconds=delay_seconds),
    )
    session.add(row)
    metrics.JOBS_ENQUEUED.labels(job).inc()
    if not session.info.get("outbox_wake_registered"):
        session.info["outbox_wake_registered"] = True
        event.listen(session.sync_session, "after_commit", _wake_relays, once=True)
    return row.job_id


# Relays of this process, woken right after a commit that enqueued something.
_relays: weakref.WeakSet[Relay] = weakref.WeakSet()


def _wake_relays(session: Session) -> None:
    session.info.pop("outbox_wake_registered", None)
    for relay in list(_relays):
        relay.wake()


class Relay:
    """Moves committed outbox rows to the broker: poll, lock a batch, publish, mark sent."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        broker: Broker,
        *,
        batch_size: int = 100,
        interval_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
        publish_timeout_seconds: float = 5.0,
        retention_seconds: float = 86400.0,
        purge_interval_seconds: float = 60.0,
    ) -> None:
        self._session_factory = session_factory
        self._broker = broker
        self._batch_size = batch_size
        self._interval_seconds = interval_seconds
        self._max_backoff_seconds = max_backoff_seconds
        self._publish_timeout_seconds = publish_timeout_seconds
        self._retention_seconds = retention_seconds
        self._purge_interval_seconds = purge_interval_seconds
        self._last_purge = 0.0
        self._wakeup = asyncio.Event()
        _relays.add(self)

    def wake(self) -> None:
        self._wakeup.set()

    async def relay_once(self) -> int:
        """Publish one batch of due rows; returns how many the broker confirmed.

        Rows confirmed before a failure are still marked sent; the failure is re-raised.
        """
        published = 0
        failure: Exception | None = None
        async with self._session_factory() as session, session.begin():
            now = utc_now()
            query = (
                select(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None), OutboxMessage.available_at <= now)
                .order_by(OutboxMessage.available_at, OutboxMessage.id)
                .limit(self._batch_size)
                .with_for_update(skip_locked=True)
            )
            for row in (await session.scalars(query)).all():
                try:
                    async with asyncio.timeout(self._publish_timeout_seconds):
                        await self._broker.publish(row.to_message())
                except Exception as error:  # noqa: BLE001 - re-raised after the commit
                    failure = error
                    break
                row.sent_at = utc_now()
                published += 1
        # The block above committed the sent marks of what the broker confirmed.
        metrics.JOBS_PUBLISHED.inc(published)
        await self.observe()
        if failure is not None:
            raise failure
        return published

    async def observe(self) -> tuple[int, float]:
        """Update the pending gauge and the lag of the oldest due row; returns both."""
        async with self._session_factory() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(OutboxMessage.available_at)).where(
                        OutboxMessage.sent_at.is_(None)
                    )
                )
            ).one()
        lag = max(0.0, (utc_now() - oldest).total_seconds()) if oldest is not None else 0.0
        metrics.OUTBOX_PENDING.set(count)
        metrics.QUEUE_LAG.set(lag)
        return int(count), lag

    async def purge(self) -> None:
        """Delete sent rows and dedupe records older than the retention."""
        cutoff = utc_now() - timedelta(seconds=self._retention_seconds)
        async with self._session_factory() as session, session.begin():
            await session.execute(delete(OutboxMessage).where(OutboxMessage.sent_at < cutoff))
            await session.execute(delete(ProcessedJob).where(ProcessedJob.processed_at < cutoff))

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set, backing off exponentially while publishing fails."""
        failures = 0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            delay = self._interval_seconds
            try:
                published = await self.relay_once()
                if loop.time() - self._last_purge >= self._purge_interval_seconds:
                    self._last_purge = loop.time()
                    await self.purge()
            except Exception as error:  # noqa: BLE001 - broker or database down: retry later
                failures += 1
                metrics.JOBS_PUBLISH_FAILURES.inc()
                delay = min(self._max_backoff_seconds, self._interval_seconds * 2**failures)
                logger.warning(
                    "outbox relay failed (%s consecutive); retrying in %.1fs: %r",
                    failures,
                    delay,
                    error,
                )
            else:
                failures = 0
                if published == self._batch_size:
                    continue  # more may be due: no pause
            await _wait_any(stop, self._wakeup, delay)
            self._wakeup.clear()


async def _wait_any(stop: asyncio.Event, wakeup: asyncio.Event, timeout_seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout_seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
