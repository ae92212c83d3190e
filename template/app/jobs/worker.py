"""The worker: takes deliveries from the broker and runs their handlers.

``python -m app.jobs.worker`` runs a worker and an outbox relay until SIGTERM/SIGINT
(``app.jobs.runtime.main``); then it finishes (and acks) the job in hand, takes no new
one, and exits.

Each delivery ends in one outcome:
- succeeded: the handler's effect and the ``processed_jobs`` row committed together;
- duplicate: the job id was already processed (redelivery), nothing runs again;
- retried: the handler failed; attempt + 1 is scheduled in the outbox with backoff;
- dead_lettered: the last attempt failed (or no handler exists): the message goes to the DLQ.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.jobs import metrics
from app.jobs.brokers import Broker, Delivery
from app.jobs.idempotency import already_processed, claim
from app.jobs.registry import Handler, JobContext, JobRegistry
from app.jobs.retry import retry_delay_seconds, schedule_retry
from app.observability.request_context import request_id_var

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    RETRIED = "retried"
    DEAD_LETTERED = "dead_lettered"
    DUPLICATE = "duplicate"


class Worker:
    def __init__(
        self,
        broker: Broker,
        session_factory: async_sessionmaker[AsyncSession],
        registry: JobRegistry,
        *,
        max_attempts: int = 5,
        retry_base_delay_seconds: float = 1.0,
        retry_max_delay_seconds: float = 300.0,
        poll_timeout_seconds: float = 1.0,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self._broker = broker
        self._session_factory = session_factory
        self._registry = registry
        self._max_attempts = max_attempts
        self._retry_base_delay_seconds = retry_base_delay_seconds
        self._retry_max_delay_seconds = retry_max_delay_seconds
        self._poll_timeout_seconds = poll_timeout_seconds
        self._max_backoff_seconds = max_backoff_seconds
        # True while the last call to the broker succeeded: the heartbeat's signal.
        self.consuming = False

    async def run(self, stop: asyncio.Event) -> None:
        """Process deliveries until ``stop`` is set; the job in hand always completes."""
        failures = 0
        while not stop.is_set():
            try:
                await self.process_next(self._poll_timeout_seconds)
            except Exception as error:  # noqa: BLE001 - broker or database down: retry later
                self.consuming = False
                failures += 1
                delay = min(self._max_backoff_seconds, 0.5 * 2**failures)
                logger.warning("worker: %r; retrying in %.1fs", error, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            else:
                self.consuming = True
                failures = 0
        self.consuming = False

    async def process_next(self, timeout_seconds: float) -> Outcome | None:
        delivery = await self._broker.get(timeout_seconds)
        self.consuming = True
        if delivery is None:
            return None
        return await self.process(delivery)

    async def process(self, delivery: Delivery) -> Outcome:
        message = delivery.message
        metrics.JOBS_START_LATENCY.labels(message.job).observe(
            max(0.0, time.time() - message.ready_at)
        )
        handler = self._registry.get(message.job)
        token = request_id_var.set(message.request_id)
        started = time.perf_counter()
        try:
            if handler is None:
                logger.error("job %s (%s): no handler; dead-lettering", message.id, message.job)
                await delivery.dead_letter()
                outcome = Outcome.DEAD_LETTERED
            else:
                outcome = await self._run(delivery, handler)
        finally:
            request_id_var.reset(token)
        metrics.JOBS_DURATION.labels(message.job).observe(time.perf_counter() - started)
        metrics.JOBS_PROCESSED.labels(message.job, outcome.value).inc()
        return outcome

    async def _run(self, delivery: Delivery, handler: Handler) -> Outcome:
        message = delivery.message
        try:
            async with self._session_factory() as session, session.begin():
                if await already_processed(session, message.id):
                    outcome = Outcome.DUPLICATE
                else:
                    await claim(session, message)
                    await handler(JobContext(session, message))
                    outcome = Outcome.SUCCEEDED
        except IntegrityError as error:
            if not await self._processed_elsewhere(message.id):
                return await self._fail(delivery, error)
            outcome = Outcome.DUPLICATE  # a concurrent delivery of the same job won
        except Exception as error:  # noqa: BLE001 - any handler failure is retried
            return await self._fail(delivery, error)
        await delivery.ack()
        if outcome is Outcome.DUPLICATE:
            logger.info("job %s (%s): already processed; acked", message.id, message.job)
        return outcome

    async def _processed_elsewhere(self, job_id: str) -> bool:
        async with self._session_factory() as session:
            return await already_processed(session, job_id)

    async def _fail(self, delivery: Delivery, error: Exception) -> Outcome:
        message = delivery.message
        if message.attempt >= self._max_attempts:
            logger.error(
                "job %s (%s) failed attempt %s/%s; dead-lettering: %r",
                message.id,
                message.job,
                message.attempt,
                self._max_attempts,
                error,
            )
            await delivery.dead_letter()
            return Outcome.DEAD_LETTERED
        delay = retry_delay_seconds(
            message.attempt,
            base_seconds=self._retry_base_delay_seconds,
            max_seconds=self._retry_max_delay_seconds,
        )
        try:
            await schedule_retry(self._session_factory, message, delay)
        except Exception:
            # The retry could not be recorded (database down): hand the message back.
            await delivery.release()
            raise
        await delivery.ack()
        logger.warning(
            "job %s (%s) failed attempt %s/%s; retrying in %.1fs: %r",
            message.id,
            message.job,
            message.attempt,
            self._max_attempts,
            delay,
            error,
        )
        return Outcome.RETRIED


if __name__ == "__main__":  # `python -m app.jobs.worker`: the worker command
    from app.jobs.runtime import main

    main()
