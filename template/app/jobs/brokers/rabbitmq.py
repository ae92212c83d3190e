"""RabbitMQ through aio-pika: durable queue, persistent messages, publisher confirms, DLX.

Topology (declared idempotently on connect)::

    default exchange --"jobs"--> jobs (durable; x-dead-letter-exchange=jobs.dlx)
    reject(requeue=False) -----> jobs.dlx --"jobs"--> jobs.dead-letter (durable)

Consumers ack manually and see at most ``prefetch_count`` unacked messages; a worker that
dies leaves its unacked messages to be redelivered to another. A lost connection is not
hidden: the next call raises, and the caller (relay or worker) backs off and reconnects.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractQueue,
    HeadersType,
)

from app.jobs.message import JobMessage


@dataclass(slots=True)
class RabbitMQDelivery:
    message: JobMessage
    raw: AbstractIncomingMessage

    async def ack(self) -> None:
        await self.raw.ack()

    async def dead_letter(self) -> None:
        # The queue's dead-letter exchange routes rejected messages to the DLQ.
        await self.raw.reject(requeue=False)

    async def release(self) -> None:
        await self.raw.nack(requeue=True)


class RabbitMQBroker:
    def __init__(
        self,
        url: str,
        *,
        queue_name: str = "jobs",
        prefetch_count: int = 16,
        connect_timeout_seconds: float = 5.0,
    ) -> None:
        self._url = url
        self.queue_name = queue_name
        self.dead_letter_queue_name = f"{queue_name}.dead-letter"
        self._dead_letter_exchange = f"{queue_name}.dlx"
        self._prefetch_count = prefetch_count
        self._connect_timeout_seconds = connect_timeout_seconds
        self._connection: AbstractConnection | None = None
        self._publish_channel: AbstractChannel | None = None
        self._consume_channel: AbstractChannel | None = None
        self._incoming: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        self._lock = asyncio.Lock()

    async def publish(self, message: JobMessage) -> None:
        channel = await self._channel()
        headers: HeadersType = {"job": message.job, "attempt": message.attempt}
        if message.request_id:
            headers["request_id"] = message.request_id
        try:
            # With publisher confirms on, this returns once the broker has the message
            # on disk (persistent + durable queue), and raises if it was nacked/returned.
            await channel.default_exchange.publish(
                aio_pika.Message(
                    message.to_bytes(),
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=message.id,
                    content_type="application/json",
                    headers=headers,
                ),
                routing_key=self.queue_name,
                mandatory=True,
            )
        except Exception:
            await self._reset()
            raise

    async def get(self, timeout_seconds: float) -> RabbitMQDelivery | None:
        await self._consumer()
        try:
            async with asyncio.timeout(timeout_seconds):
                while True:
                    try:
                        raw = self._incoming.get_nowait()
                    except asyncio.QueueEmpty:
                        if self._connection is None or self._connection.is_closed:
                            await self._reset()
                            raise ConnectionError("RabbitMQ connection lost") from None
                        await asyncio.sleep(0.05)
                        continue
                    return RabbitMQDelivery(JobMessage.from_bytes(raw.body), raw)
        except TimeoutError:
            return None

    async def dead_letter_count(self) -> int:
        channel = await self._channel()
        queue = await channel.declare_queue(self.dead_letter_queue_name, passive=True)
        count = queue.declaration_result.message_count
        return int(count or 0)

    async def ping(self) -> None:
        await self._channel()

    async def purge(self) -> None:
        """Empty the work and dead-letter queues (tests)."""
        channel = await self._channel()
        for name in (self.queue_name, self.dead_letter_queue_name):
            queue = await channel.declare_queue(name, passive=True)
            await queue.purge()

    async def close(self) -> None:
        await self._reset()

    async def _channel(self) -> AbstractChannel:
        async with self._lock:
            if self._connection is None or self._connection.is_closed:
                await self._reset_unlocked()
                self._connection = await aio_pika.connect(
                    self._url, timeout=self._connect_timeout_seconds
                )
                self._publish_channel = await self._connection.channel(publisher_confirms=True)
                await self._declare(self._publish_channel)
            assert self._publish_channel is not None  # noqa: S101 - set together with the connection
            return self._publish_channel

    async def _consumer(self) -> None:
        await self._channel()
        async with self._lock:
            if self._consume_channel is not None or self._connection is None:
                return
            channel = await self._connection.channel()
            await channel.set_qos(prefetch_count=self._prefetch_count)
            queue: AbstractQueue = await channel.get_queue(self.queue_name, ensure=True)
            await queue.consume(self._incoming.put)
            self._consume_channel = channel

    async def _declare(self, channel: AbstractChannel) -> None:
        dlx = await channel.declare_exchange(
            self._dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
        )
        dead = await channel.declare_queue(self.dead_letter_queue_name, durable=True)
        await dead.bind(dlx, routing_key=self.queue_name)
        await channel.declare_queue(
            self.queue_name,
            durable=True,
            arguments={
                "x-dead-letter-exchange": self._dead_letter_exchange,
                "x-dead-letter-routing-key": self.queue_name,
            },
        )

    async def _reset(self) -> None:
        async with self._lock:
            await self._reset_unlocked()

    async def _reset_unlocked(self) -> None:
        connection, self._connection = self._connection, None
        self._publish_channel = self._consume_channel = None
        # Unacked messages already buffered here are redelivered by the broker anyway.
        self._incoming = asyncio.Queue()
        if connection is not None and not connection.is_closed:
            try:
                await connection.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail too
                return
