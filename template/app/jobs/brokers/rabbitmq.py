"""RabbitMQ through aio-pika: quorum queues, persistent messages, publisher confirms, DLX.

Topology (declared idempotently on connect)::

    default exchange --"jobs"--> jobs (quorum; x-dead-letter-exchange=jobs.dlx)
    reject(requeue=False) -----> jobs.dlx --"jobs"--> jobs.dead-letter (quorum)

Quorum queues are replicated with Raft (Amazon MQ for RabbitMQ 4.x recommends them;
classic mirrored queues are gone in 4.x). They are always durable, never exclusive, and
have no priorities or global QoS, which this broker never uses. A queue of the same
name declared earlier as a classic queue makes RabbitMQ refuse the declaration
(PRECONDITION_FAILED): such a queue is replaced when it is empty and unused, and
otherwise :class:`QueueTypeConflictError` says what the operator must do.

Consumers ack manually and see at most ``prefetch_count`` unacked messages; a worker that
dies leaves its unacked messages to be redelivered to another. A lost connection is not
hidden: the next call raises, and the caller (relay or worker) backs off and reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractQueue,
    HeadersType,
)
from aio_pika.exceptions import ChannelPreconditionFailed

from app.jobs.message import JobMessage

logger = logging.getLogger(__name__)

# HeadersType is aio-pika's name for an AMQP field table, which queue arguments are too.
QUORUM: HeadersType = {"x-queue-type": "quorum"}


class QueueTypeConflictError(RuntimeError):
    """A queue of our name exists with other arguments and cannot be replaced safely."""


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
        return await self._message_count(self.dead_letter_queue_name)

    async def depth(self) -> int:
        # Ready messages only: the unacked ones are already in a worker's hands.
        return await self._message_count(self.queue_name)

    async def _message_count(self, queue_name: str) -> int:
        channel = await self._channel()
        queue = await channel.declare_queue(queue_name, passive=True)
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
                try:
                    self._publish_channel = await self._declare_topology(self._connection)
                except Exception:
                    await self._reset_unlocked()
                    raise
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

    async def _declare_topology(self, connection: AbstractConnection) -> AbstractChannel:
        """Declare exchange and queues; returns the (confirming) channel that did it."""
        replaced: set[str] = set()
        while True:
            channel = await connection.channel(publisher_confirms=True)
            try:
                await self._declare(channel)
            except ChannelPreconditionFailed as error:
                # The channel is closed now; the refused queue is the one named in the reply.
                name = self._conflicting_queue(str(error))
                if name is None or name in replaced:
                    raise
                await self._replace_queue(connection, name, error)
                replaced.add(name)
                continue
            return channel

    async def _declare(self, channel: AbstractChannel) -> None:
        dlx = await channel.declare_exchange(
            self._dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
        )
        dead = await channel.declare_queue(
            self.dead_letter_queue_name, durable=True, arguments=QUORUM
        )
        await dead.bind(dlx, routing_key=self.queue_name)
        await channel.declare_queue(
            self.queue_name,
            durable=True,
            arguments={
                **QUORUM,
                "x-dead-letter-exchange": self._dead_letter_exchange,
                "x-dead-letter-routing-key": self.queue_name,
            },
        )

    def _conflicting_queue(self, reply: str) -> str | None:
        for name in (self.dead_letter_queue_name, self.queue_name):
            if f"queue '{name}'" in reply:
                return name
        return None

    async def _replace_queue(
        self, connection: AbstractConnection, name: str, conflict: Exception
    ) -> None:
        """Delete ``name`` (declared earlier with other arguments, e.g. as a classic queue)
        if it is empty and has no consumers, so it can be declared as a quorum queue.
        RabbitMQ checks both conditions atomically, so no message can be lost."""
        channel = await connection.channel()
        try:
            await channel.queue_delete(name, if_unused=True, if_empty=True)
        except ChannelPreconditionFailed as refusal:
            raise QueueTypeConflictError(
                f"RabbitMQ queue {name!r} exists with other arguments than this app declares "
                f"(a classic queue from an earlier version?), and it cannot be replaced by a "
                f"quorum queue because it still holds messages or has consumers ({refusal}). "
                f"Let the old workers drain it and stop, then delete it "
                f"(rabbitmqctl delete_queue {name}); or set JOBS_QUEUE_NAME to a new name "
                f"and let the old workers drain the old queue. Broker said: {conflict}"
            ) from refusal
        finally:
            if not channel.is_closed:
                await channel.close()
        logger.warning(
            "RabbitMQ queue %r existed with other arguments (classic?); it was empty and "
            "unused, so it was deleted and is declared again as a quorum queue",
            name,
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
