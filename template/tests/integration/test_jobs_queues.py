"""Broker queues on real servers: RabbitMQ quorum queues (and replacing an old classic
queue), and the queue depth the worker reports for autoscaling, on RabbitMQ and Redis.

Each test uses a queue name of its own on TEST_BROKER_URL and deletes it afterwards;
the Redis test flushes the database TEST_REDIS_URL names, before and after.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import aio_pika
import pytest
import redis.asyncio as redis
from aio_pika.exceptions import ChannelPreconditionFailed

from app.jobs.brokers import Broker, create_broker
from app.jobs.brokers.rabbitmq import QueueTypeConflictError, RabbitMQBroker
from app.jobs.message import JobMessage
from tests.integration.conftest import require_server


def message(n: int) -> JobMessage:
    return JobMessage(id=f"depth-{n}-{secrets.token_hex(4)}", job="noop", payload={"n": n})


@pytest.fixture
async def rabbitmq_queue() -> AsyncIterator[tuple[str, str]]:
    """(broker URL, a fresh queue name); the queues and exchange are deleted afterwards."""
    url = require_server("TEST_BROKER_URL")
    name = f"jobs-it-quorum-{secrets.token_hex(4)}"
    yield url, name
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(name)
        await channel.queue_delete(f"{name}.dead-letter")
        await channel.exchange_delete(f"{name}.dlx")


async def declare_classic(url: str, name: str, *, messages: int = 0) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(name, durable=True)
        for _ in range(messages):
            await channel.default_exchange.publish(aio_pika.Message(b"old"), routing_key=name)


async def is_quorum(url: str, name: str) -> bool:
    """A quorum queue refuses a redeclaration as classic (PRECONDITION_FAILED)."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        try:
            await channel.declare_queue(name, durable=True, arguments={"x-queue-type": "classic"})
        except ChannelPreconditionFailed:
            return True
        return False


async def wait_for_depth(broker: Broker, expected: int) -> int:
    depth = await broker.depth()
    for _ in range(50):
        if depth == expected:
            break
        await asyncio.sleep(0.1)
        depth = await broker.depth()
    return depth


async def test_rabbitmq_declares_its_queues_as_quorum_queues(
    rabbitmq_queue: tuple[str, str],
) -> None:
    url, name = rabbitmq_queue
    broker = RabbitMQBroker(url, queue_name=name)
    try:
        await broker.ping()
    finally:
        await broker.close()
    assert await is_quorum(url, name)
    assert await is_quorum(url, f"{name}.dead-letter")


async def test_an_empty_classic_queue_of_the_same_name_is_replaced_by_a_quorum_queue(
    rabbitmq_queue: tuple[str, str],
) -> None:
    url, name = rabbitmq_queue
    await declare_classic(url, name)
    await declare_classic(url, f"{name}.dead-letter")
    assert not await is_quorum(url, name)
    broker = RabbitMQBroker(url, queue_name=name)
    try:
        await broker.publish(message(1))
        assert await wait_for_depth(broker, 1) == 1
    finally:
        await broker.close()
    assert await is_quorum(url, name)
    assert await is_quorum(url, f"{name}.dead-letter")


async def test_a_classic_queue_holding_messages_is_kept_and_the_error_says_what_to_do(
    rabbitmq_queue: tuple[str, str],
) -> None:
    url, name = rabbitmq_queue
    await declare_classic(url, name, messages=2)
    broker = RabbitMQBroker(url, queue_name=name)
    try:
        with pytest.raises(QueueTypeConflictError) as refused:
            await broker.ping()
        text = str(refused.value)
        assert repr(name) in text
        assert "JOBS_QUEUE_NAME" in text
        assert f"rabbitmqctl delete_queue {name}" in text
        # Nothing was lost, and the broker is usable again once the operator acts.
        assert not await is_quorum(url, name)
    finally:
        await broker.close()
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        old = await channel.declare_queue(name, passive=True)
        assert old.declaration_result.message_count == 2


async def test_rabbitmq_depth_counts_ready_messages(rabbitmq_queue: tuple[str, str]) -> None:
    url, name = rabbitmq_queue
    broker = create_broker(url, queue_name=name, prefetch_count=1)
    try:
        assert await broker.depth() == 0
        for n in range(3):
            await broker.publish(message(n))
        assert await wait_for_depth(broker, 3) == 3
        delivery = await broker.get(5)
        assert delivery is not None
        # With prefetch 1 the consumer holds one unacked message; two still wait.
        assert await wait_for_depth(broker, 2) == 2
        await delivery.ack()
    finally:
        await broker.close()


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    url = require_server("TEST_REDIS_URL")
    client = redis.Redis.from_url(url)
    await client.flushdb()
    yield url
    await client.flushdb()
    await client.aclose()


async def test_redis_depth_counts_entries_not_yet_delivered(redis_url: str) -> None:
    broker = create_broker(redis_url, queue_name=f"jobs-it-depth-{secrets.token_hex(4)}")
    try:
        assert await broker.depth() == 0
        for n in range(3):
            await broker.publish(message(n))
        assert await broker.depth() == 3
        delivery = await broker.get(1)
        assert delivery is not None
        assert await broker.depth() == 2  # the pending one is in a worker's hands
        await delivery.ack()
        assert await broker.depth() == 2
    finally:
        await broker.close()
