"""At-most-once effects: a job id is recorded in the same transaction as its effect.

A redelivered or duplicated message finds its id in ``processed_jobs`` and is acked
without running again; two workers racing on one id collide on the primary key, and
PostgreSQL makes the second wait for the first to commit, then fail.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base
from app.db.types import UTCDateTime, utc_now
from app.jobs.message import JobMessage


class ProcessedJob(Base):
    __tablename__ = "processed_jobs"

    job_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    job: Mapped[str] = mapped_column(String(100))
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)


async def already_processed(session: AsyncSession, job_id: str) -> bool:
    found = await session.scalar(select(ProcessedJob.job_id).where(ProcessedJob.job_id == job_id))
    return found is not None


async def claim(session: AsyncSession, message: JobMessage) -> None:
    """Record ``message`` as processed now, so a concurrent duplicate blocks or fails here."""
    session.add(ProcessedJob(job_id=message.id, job=message.job))
    await session.flush()
