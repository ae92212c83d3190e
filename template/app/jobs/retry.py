"""Exponential backoff with jitter, and retries scheduled through the outbox.

A failed job is not requeued on the broker with a timer (RabbitMQ has no per-message delay
without a plugin, Redis Streams none at all): its next attempt is an outbox row due later,
which the relay publishes when it is due. The schedule is durable and the same on every broker.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.jobs.message import JobMessage
from app.jobs.outbox import enqueue


def retry_delay_seconds(
    attempt: int,
    *,
    base_seconds: float,
    max_seconds: float,
    random_fraction: Callable[[], float] = random.random,
) -> float:
    """Delay before attempt ``attempt + 1``: base * 2^(attempt-1), capped, "equal jitter".

    Half the delay is fixed and half random, so retries of many jobs failing together
    (a dependency outage) spread out instead of arriving in waves.
    """
    ceiling = min(max_seconds, base_seconds * 2.0 ** max(0, attempt - 1))
    return ceiling / 2 + ceiling / 2 * random_fraction()


async def schedule_retry(
    session_factory: async_sessionmaker[AsyncSession], message: JobMessage, delay_seconds: float
) -> None:
    async with session_factory() as session, session.begin():
        enqueue(
            session,
            message.job,
            message.payload,
            job_id=message.id,
            attempt=message.attempt + 1,
            delay_seconds=delay_seconds,
            request_id=message.request_id,
        )
