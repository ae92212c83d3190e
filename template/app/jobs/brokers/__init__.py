"""Broker backends behind one small interface, chosen by the scheme of BROKER_URL.

- empty              -> :class:`MemoryBroker` (asyncio queue inside the app process)
- amqp:// amqps://   -> :class:`RabbitMQBroker` (quorum queue, confirms, DLX)
- redis:// rediss:// -> :class:`RedisStreamsBroker` (stream + consumer group, DLQ stream)
"""

from __future__ import annotations

from typing import Protocol

from app.jobs.message import JobMessage


class Delivery(Protocol):
    """One message handed to a worker; exactly one of the three methods settles it."""

    message: JobMessage

    async def ack(self) -> None:
        """Done (succeeded, duplicate, or a retry was scheduled in the outbox)."""

    async def dead_letter(self) -> None:
        """Move the message to the dead-letter queue and remove it from the work queue."""

    async def release(self) -> None:
        """Give the message back for redelivery (the worker could not settle it)."""


class Broker(Protocol):
    async def publish(self, message: JobMessage) -> None:
        """Return only once the broker has durably accepted ``message``; raise otherwise."""

    async def get(self, timeout_seconds: float) -> Delivery | None:
        """The next delivery, or None after ``timeout_seconds`` without one."""

    async def dead_letter_count(self) -> int:
        """Messages waiting in the dead-letter queue."""

    async def depth(self) -> int:
        """Messages waiting in the work queue for a worker (not those in a worker's hands)."""

    async def ping(self) -> None:
        """Raise if the broker cannot be reached."""

    async def close(self) -> None: ...


def create_broker(
    url: str,
    *,
    queue_name: str = "jobs",
    prefetch_count: int = 16,
    visibility_timeout_seconds: float = 300.0,
    connect_timeout_seconds: float = 5.0,
) -> Broker:
    """The backend for ``url``'s scheme (empty: in-process)."""
    scheme = url.partition("://")[0]
    if not url:
        from app.jobs.brokers.memory import MemoryBroker  # noqa: PLC0415

        return MemoryBroker()
    if scheme in {"amqp", "amqps"}:
        from app.jobs.brokers.rabbitmq import RabbitMQBroker  # noqa: PLC0415

        return RabbitMQBroker(
            url,
            queue_name=queue_name,
            prefetch_count=prefetch_count,
            connect_timeout_seconds=connect_timeout_seconds,
        )
    if scheme in {"redis", "rediss"}:
        from app.jobs.brokers.redis_streams import RedisStreamsBroker  # noqa: PLC0415

        return RedisStreamsBroker(
            url,
            stream=queue_name,
            visibility_timeout_seconds=visibility_timeout_seconds,
            connect_timeout_seconds=connect_timeout_seconds,
        )
    raise ValueError(f"unsupported BROKER_URL scheme {scheme!r}: use amqp(s)://, redis(s):// or ''")
