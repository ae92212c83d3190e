"""The job system on the embedded defaults: in-process broker, SQLite outbox."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.engine import create_engine
from app.db.models import Item, User
from app.db.session import create_session_factory
from app.jobs.brokers.memory import MemoryBroker
from app.jobs.handlers import normalize_search_text
from app.jobs.message import JobMessage
from app.jobs.outbox import OutboxMessage, Relay, enqueue
from app.jobs.registry import JobContext, JobRegistry
from app.jobs.retry import retry_delay_seconds
from app.jobs.worker import Outcome, Worker
from app.observability.request_context import request_id_var
from app.settings import Settings
from tests.conftest import Login, bearer

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(settings: Settings) -> AsyncIterator[Sessions]:
    engine = create_engine(settings.primary_database_url, settings)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def item_id(sessions: Sessions) -> int:
    async with sessions() as session, session.begin():
        user = User(email="jobs@example.com", password_hash="x")
        session.add(user)
        await session.flush()
        item = Item(owner_id=user.id, name="Crème  Brûlée", description="Dessert", price_cents=0)
        session.add(item)
        await session.flush()
        return item.id


def processed(job: str, outcome: Outcome) -> float:
    value = REGISTRY.get_sample_value("jobs_processed_total", {"job": job, "outcome": outcome})
    return value or 0.0


def pipeline(
    sessions: Sessions, registry: JobRegistry, *, max_attempts: int = 5
) -> tuple[Relay, Worker]:
    """A relay and a worker sharing an in-process broker; retries are due at once."""
    broker = MemoryBroker()
    relay = Relay(sessions, broker)
    worker = Worker(
        broker, sessions, registry, max_attempts=max_attempts, retry_base_delay_seconds=0
    )
    return relay, worker


async def outbox_rows(sessions: Sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def test_a_write_that_rolls_back_enqueues_nothing(sessions: Sessions, item_id: int) -> None:
    async with sessions() as session:
        await session.execute(update(Item).where(Item.id == item_id).values(price_cents=5))
        enqueue(session, "noop", {"item_id": item_id})
        await session.rollback()
    assert await outbox_rows(sessions) == 0

    async with sessions() as session:
        await session.execute(update(Item).where(Item.id == item_id).values(price_cents=5))
        enqueue(session, "noop", {"item_id": item_id})
        await session.commit()
    assert await outbox_rows(sessions) == 1


async def test_relay_marks_rows_sent_only_after_publishing(sessions: Sessions) -> None:
    class DownBroker(MemoryBroker):
        async def publish(self, message: JobMessage) -> None:
            raise ConnectionError("broker down")

    async with sessions() as session, session.begin():
        enqueue(session, "noop", {})
    with pytest.raises(ConnectionError):
        await Relay(sessions, DownBroker()).relay_once()
    relay = Relay(sessions, broker := MemoryBroker())
    pending, lag_seconds = await relay.observe()
    assert pending == 1
    assert lag_seconds >= 0

    assert await relay.relay_once() == 1
    assert broker.queue.qsize() == 1
    assert await relay.relay_once() == 0, "a sent row is never published again"
    assert (await relay.observe())[0] == 0


async def test_item_write_runs_the_search_job_in_process(
    client: httpx.AsyncClient, login: Login, settings: Settings
) -> None:
    tokens = await login("searcher@example.com")
    created = await client.post(
        "/api/v1/items",
        json={"name": "Ünïcode  TITLE", "description": "Some  Text"},
        headers=bearer(tokens),
    )
    assert created.status_code == 201, created.text
    engine = create_engine(settings.primary_database_url, settings)
    deadline = time.monotonic() + 10
    search_text = None
    while time.monotonic() < deadline:
        async with engine.connect() as connection:
            search_text = await connection.scalar(
                select(Item.search_text).where(Item.id == created.json()["id"])
            )
        if search_text:
            break
        await asyncio.sleep(0.05)
    await engine.dispose()
    assert search_text == "unicode title some text"


def test_search_text_is_normalized() -> None:
    assert normalize_search_text("Crème  Brûlée", "DESSERT\n") == "creme brulee dessert"


async def test_a_failing_job_is_retried_then_succeeds(sessions: Sessions) -> None:
    registry = JobRegistry()
    attempts: list[int] = []

    @registry.job("flaky")
    async def flaky(context: JobContext) -> None:
        attempts.append(context.message.attempt)
        if len(attempts) < 3:
            raise RuntimeError("transient")

    relay, worker = pipeline(sessions, registry, max_attempts=5)
    async with sessions() as session, session.begin():
        enqueue(session, "flaky", {})
    before = processed("flaky", Outcome.RETRIED)
    outcomes = []
    for _ in range(3):
        assert await relay.relay_once() == 1
        outcomes.append(await worker.process_next(1))
    assert outcomes == [Outcome.RETRIED, Outcome.RETRIED, Outcome.SUCCEEDED]
    assert attempts == [1, 2, 3]
    assert processed("flaky", Outcome.RETRIED) - before == 2


async def test_a_job_failing_every_attempt_goes_to_the_dead_letter_queue(
    sessions: Sessions,
) -> None:
    registry = JobRegistry()

    @registry.job("doomed")
    async def doomed(_context: JobContext) -> None:
        raise RuntimeError("permanent")

    relay, worker = pipeline(sessions, registry, max_attempts=3)
    async with sessions() as session, session.begin():
        job_id = enqueue(session, "doomed", {"n": 1})
    before = processed("doomed", Outcome.DEAD_LETTERED)
    outcomes = []
    while await relay.relay_once():
        outcomes.append(await worker.process_next(1))
    assert outcomes == [Outcome.RETRIED, Outcome.RETRIED, Outcome.DEAD_LETTERED]
    broker = worker._broker
    assert isinstance(broker, MemoryBroker)
    assert [(m.id, m.attempt, m.payload) for m in broker.dead_letters] == [(job_id, 3, {"n": 1})]
    assert processed("doomed", Outcome.DEAD_LETTERED) - before == 1


async def test_an_unknown_job_is_dead_lettered(sessions: Sessions) -> None:
    relay, worker = pipeline(sessions, JobRegistry())
    async with sessions() as session, session.begin():
        enqueue(session, "nobody-handles-this", {})
    await relay.relay_once()
    assert await worker.process_next(1) == Outcome.DEAD_LETTERED


async def test_a_duplicate_delivery_is_applied_once(sessions: Sessions, item_id: int) -> None:
    registry = JobRegistry()

    @registry.job("add_one_cent")  # deliberately not idempotent by itself
    async def add_one_cent(context: JobContext) -> None:
        await context.session.execute(
            update(Item)
            .where(Item.id == context.payload["item_id"])
            .values(price_cents=Item.price_cents + 1)
        )

    broker = MemoryBroker()
    worker = Worker(broker, sessions, registry)
    message = JobMessage(id="job-1", job="add_one_cent", payload={"item_id": item_id})
    await broker.publish(message)
    await broker.publish(message)  # the broker redelivers, or the relay sent it twice

    assert await worker.process_next(1) == Outcome.SUCCEEDED
    assert await worker.process_next(1) == Outcome.DUPLICATE
    async with sessions() as session:
        assert await session.scalar(select(Item.price_cents).where(Item.id == item_id)) == 1


async def test_the_request_id_travels_with_the_job(sessions: Sessions) -> None:
    registry = JobRegistry()
    seen: list[str | None] = []

    @registry.job("traced")
    async def traced(_context: JobContext) -> None:
        seen.append(request_id_var.get())

    relay, worker = pipeline(sessions, registry)
    token = request_id_var.set("req-1234")
    try:
        async with sessions() as session, session.begin():
            enqueue(session, "traced", {})
    finally:
        request_id_var.reset(token)
    await relay.relay_once()
    assert await worker.process_next(1) == Outcome.SUCCEEDED
    assert seen == ["req-1234"]
    assert request_id_var.get() is None, "the worker restores the context afterwards"


async def test_stopping_the_worker_finishes_the_job_in_hand(sessions: Sessions) -> None:
    registry = JobRegistry()
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    @registry.job("slow")
    async def slow(context: JobContext) -> None:
        started.set()
        await release.wait()
        finished.append(context.message.id)

    relay, worker = pipeline(sessions, registry)
    async with sessions() as session, session.begin():
        job_id = enqueue(session, "slow", {})
        enqueue(session, "slow", {})
    await relay.relay_once()
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()  # what SIGTERM does in `python -m app.jobs.worker`
    release.set()
    await asyncio.wait_for(running, 5)
    assert finished == [job_id], "the job in hand completes; the next one is left queued"
    broker = worker._broker
    assert isinstance(broker, MemoryBroker)
    assert broker.queue.qsize() == 1


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 1.0), (2, 2.0), (4, 8.0), (20, 30.0)])
def test_retry_delay_grows_exponentially_with_jitter_and_a_cap(
    attempt: int, ceiling: float
) -> None:
    def delay(fraction: float) -> float:
        return retry_delay_seconds(
            attempt, base_seconds=1, max_seconds=30, random_fraction=lambda: fraction
        )

    assert delay(0.0) == ceiling / 2
    assert delay(1.0) == ceiling
