"""The job system on real servers: PostgreSQL outbox, RabbitMQ and Redis Streams brokers.

Uses its own database (``app_it_jobs``) on the TEST_DATABASE_URL server, a queue name
unique to each test on RabbitMQ, and Redis db 15 of TEST_REDIS_URL (flushed).
The broker-outage test stops the machine's RabbitMQ (``rabbitmqctl stop_app``) and only
runs with TEST_BROKER_FAULTS=1; it always starts it again.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from urllib.parse import urlsplit

import aio_pika
import pytest
import redis.asyncio as redis
from pydantic import SecretStr
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.db.engine import create_engine
from app.db.models import Item, User
from app.db.session import create_session_factory
from app.jobs.brokers import Broker, create_broker
from app.jobs.brokers.memory import MemoryBroker
from app.jobs.handlers import jobs
from app.jobs.message import JobMessage
from app.jobs.outbox import OutboxMessage, Relay, enqueue
from app.jobs.registry import JobContext, JobRegistry
from app.jobs.runtime import JobRuntime
from app.jobs.worker import Outcome, Worker
from app.repositories import items
from app.settings import Settings
from tests.conftest import TEST_JWT_SECRET_KEY, migrate
from tests.integration.conftest import require_server
from topology.processes import wait_until_gone

Sessions = async_sessionmaker[AsyncSession]
DATABASE = "app_it_jobs"


async def wait_until(
    condition: Callable[[], Awaitable[bool]], *, timeout_seconds: float, what: str
) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"timed out after {timeout_seconds}s waiting for {what}")


@pytest.fixture(scope="module")
def jobs_database_url(postgres_url: str) -> str:
    """``app_it_jobs`` on the TEST_DATABASE_URL server, recreated and migrated once."""

    async def recreate() -> None:
        admin = create_async_engine(postgres_url, isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
            await connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
        await admin.dispose()

    asyncio.run(recreate())
    url = make_url(postgres_url).set(database=DATABASE).render_as_string(hide_password=False)
    migrate(url)
    return url


@pytest.fixture
def settings_for(jobs_database_url: str) -> Callable[[str], Settings]:
    def build(broker_url: str) -> Settings:
        return Settings(
            _env_file=None,
            database_url=jobs_database_url,
            broker_url=broker_url,
            jwt_secret_key=SecretStr(TEST_JWT_SECRET_KEY),
            jobs_queue_name=f"jobs-it-{secrets.token_hex(4)}",
            jobs_retry_base_delay_seconds=0,
            outbox_relay_interval_seconds=0.1,
            outbox_relay_max_backoff_seconds=1,
            jobs_publish_timeout_seconds=2,
        )

    return build


@pytest.fixture
async def sessions(jobs_database_url: str) -> AsyncIterator[Sessions]:
    settings = Settings(_env_file=None, database_url=jobs_database_url)
    engine = create_engine(jobs_database_url, settings)
    async with engine.begin() as connection:
        await connection.execute(
            text("TRUNCATE outbox, processed_jobs, items, users RESTART IDENTITY CASCADE")
        )
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def owner_id(sessions: Sessions) -> int:
    async with sessions() as session, session.begin():
        user = User(email="owner@example.com", password_hash="x")
        session.add(user)
        await session.flush()
        return user.id


@pytest.fixture(params=["rabbitmq", "redis"])
async def broker_settings(
    request: pytest.FixtureRequest, settings_for: Callable[[str], Settings]
) -> AsyncIterator[Settings]:
    """Settings naming a real broker; its queues are removed afterwards."""
    if request.param == "rabbitmq":
        settings = settings_for(require_server("TEST_BROKER_URL"))
        yield settings
        connection = await aio_pika.connect(settings.broker_url)
        async with connection:
            channel = await connection.channel()
            name = settings.jobs_queue_name
            await channel.queue_delete(name)
            await channel.queue_delete(f"{name}.dead-letter")
            await channel.exchange_delete(f"{name}.dlx")
    else:
        url = require_server("TEST_REDIS_URL")
        client = redis.Redis.from_url(url)
        await client.flushdb()
        yield settings_for(url)
        await client.flushdb()
        await client.aclose()


def runtime_for(settings: Settings, sessions: Sessions, registry: JobRegistry = jobs) -> JobRuntime:
    return JobRuntime(settings, sessions, run_worker=True, registry=registry)


async def search_texts_done(sessions: Sessions) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(Item).where(Item.search_text.is_not(None))
        return int(await session.scalar(query) or 0)


async def test_an_item_write_runs_its_job_through_the_broker(
    broker_settings: Settings, sessions: Sessions, owner_id: int
) -> None:
    runtime = runtime_for(broker_settings, sessions)
    runtime.start()
    try:
        async with sessions() as session:
            item = await items.create_item(
                session, owner_id, {"name": "Grand  Piano", "description": "Éléphant"}
            )

        async def done() -> bool:
            return await search_texts_done(sessions) == 1

        await wait_until(done, timeout_seconds=20, what="the search job to run")
    finally:
        await runtime.stop()
    async with sessions() as session:
        saved = await session.get(Item, item.id)
        assert saved is not None
        assert saved.search_text == "grand piano elephant"
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
        pending = OutboxMessage.sent_at.is_(None)
        assert await session.scalar(select(func.count()).where(pending)) == 0


async def test_a_job_failing_every_attempt_reaches_the_dead_letter_queue(
    broker_settings: Settings, sessions: Sessions
) -> None:
    registry = JobRegistry()
    attempts: list[int] = []

    @registry.job("doomed")
    async def doomed(context: JobContext) -> None:
        attempts.append(context.message.attempt)
        raise RuntimeError("permanent failure")

    settings = broker_settings.model_copy(update={"jobs_max_attempts": 3})
    runtime = runtime_for(settings, sessions, registry)
    runtime.start()
    try:
        async with sessions() as session, session.begin():
            enqueue(session, "doomed", {})

        async def dead_lettered() -> bool:
            return await runtime.broker.dead_letter_count() == 1

        await wait_until(dead_lettered, timeout_seconds=20, what="the dead letter")
    finally:
        await runtime.stop()
    assert attempts == [1, 2, 3]


async def test_a_redelivered_job_is_applied_once(
    broker_settings: Settings, sessions: Sessions, owner_id: int
) -> None:
    registry = JobRegistry()

    @registry.job("add_one_cent")
    async def add_one_cent(context: JobContext) -> None:
        await context.session.execute(
            update(Item)
            .where(Item.id == context.payload["item_id"])
            .values(price_cents=Item.price_cents + 1)
        )

    async with sessions() as session, session.begin():
        item = Item(owner_id=owner_id, name="counter")
        session.add(item)
    broker = _broker(broker_settings)
    try:
        message = JobMessage(
            id=secrets.token_hex(8), job="add_one_cent", payload={"item_id": item.id}
        )
        await broker.publish(message)
        await broker.publish(message)
        worker = Worker(broker, sessions, registry)
        outcomes = [await worker.process_next(5), await worker.process_next(5)]
    finally:
        await broker.close()
    assert outcomes == [Outcome.SUCCEEDED, Outcome.DUPLICATE]
    async with sessions() as session:
        assert await session.scalar(select(Item.price_cents).where(Item.id == item.id)) == 1


async def test_concurrent_relays_never_send_a_row_twice(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        for number in range(300):
            enqueue(session, "noop", {"n": number})
    broker = MemoryBroker()

    async def relay_all() -> None:
        relay = Relay(sessions, broker, batch_size=20)
        published = -1
        while published:
            published = await relay.relay_once()

    await asyncio.gather(relay_all(), relay_all(), relay_all())
    published = [broker.queue.get_nowait().payload["n"] for _ in range(broker.queue.qsize())]
    assert sorted(published) == list(range(300)), "FOR UPDATE SKIP LOCKED: each row once"


def _broker(settings: Settings) -> Broker:
    return create_broker(settings.broker_url, queue_name=settings.jobs_queue_name)


@pytest.fixture
def rabbitmq_faults() -> Iterator[Callable[[str], Awaitable[None]]]:
    if os.environ.get("TEST_BROKER_FAULTS") != "1":
        pytest.skip("TEST_BROKER_FAULTS is not 1: this test stops the machine's RabbitMQ")
    rabbitmqctl = shutil.which("rabbitmqctl")
    if rabbitmqctl is None:
        pytest.fail("TEST_BROKER_FAULTS=1 but rabbitmqctl is not on PATH")

    amqp_port = urlsplit(require_server("TEST_BROKER_URL")).port or 5672

    async def run(command: str) -> None:
        process = await asyncio.create_subprocess_exec(
            rabbitmqctl, command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _, stderr = await process.communicate()
        assert process.returncode == 0, f"rabbitmqctl {command}: {stderr.decode()}"
        if command == "stop_app":  # down means refusing connections, not stopping soon
            await asyncio.to_thread(
                wait_until_gone, f"RabbitMQ's AMQP listener on port {amqp_port}", (), [amqp_port]
            )

    yield run
    # Whatever happened, leave RabbitMQ running for everyone else.
    subprocess.run([rabbitmqctl, "start_app"], check=False, capture_output=True)  # noqa: S603


async def test_jobs_written_while_rabbitmq_is_down_all_run_when_it_returns(
    rabbitmq_faults: Callable[[str], Awaitable[None]],
    settings_for: Callable[[str], Settings],
    sessions: Sessions,
    owner_id: int,
) -> None:
    settings = settings_for(require_server("TEST_BROKER_URL"))
    runtime = runtime_for(settings, sessions)
    runtime.start()
    await runtime.ping()
    try:
        await rabbitmq_faults("stop_app")
        try:
            for number in range(50):
                async with sessions() as session:
                    await items.create_item(session, owner_id, {"name": f"Item {number}"})
            pending, _ = await runtime.relay.observe()
            assert pending == 50, "the broker is down: every job waits in the outbox"
            assert await search_texts_done(sessions) == 0
        finally:
            await rabbitmq_faults("start_app")

        async def all_done() -> bool:
            return await search_texts_done(sessions) == 50

        await wait_until(all_done, timeout_seconds=120, what="all 50 jobs after the outage")
        assert (await runtime.relay.observe())[0] == 0
        assert await runtime.broker.dead_letter_count() == 0
    finally:
        await runtime.stop()
        connection = await aio_pika.connect(settings.broker_url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(settings.jobs_queue_name)
            await channel.queue_delete(f"{settings.jobs_queue_name}.dead-letter")
            await channel.exchange_delete(f"{settings.jobs_queue_name}.dlx")
