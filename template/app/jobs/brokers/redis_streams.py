"""Redis as the broker: one stream, one consumer group, and a dead-letter stream.

Streams rather than lists (LPUSH/BLMOVE): the consumer group keeps a pending-entries list
per consumer, so a worker that dies mid-job leaves its entries pending and any other worker
takes them over with XAUTOCLAIM once they are idle for ``visibility_timeout_seconds``.
A list-based reliable queue needs a processing list per worker and a hand-written reaper
for the same guarantee. Settling is atomic (MULTI): XACK+XDEL for an ack, XADD to the
dead-letter stream + XACK+XDEL for a dead letter, so the work stream stays short.

Durability is the server's: use AOF (``appendonly yes``) where jobs must survive a restart.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
from redis.exceptions import ResponseError

from app.jobs.message import JobMessage

FIELD = "message"


@dataclass(slots=True)
class RedisStreamsDelivery:
    message: JobMessage
    entry_id: str
    broker: RedisStreamsBroker

    async def ack(self) -> None:
        await self.broker.settle(self.entry_id, then_add_to=None, data=None)

    async def dead_letter(self) -> None:
        broker = self.broker
        await broker.settle(self.entry_id, broker.dead_letter_stream, self.message.to_bytes())

    async def release(self) -> None:
        # Streams have no nack: requeue a copy at the tail, atomically with the ack.
        await self.broker.settle(self.entry_id, self.broker.stream, self.message.to_bytes())


class RedisStreamsBroker:
    def __init__(
        self,
        url: str,
        *,
        stream: str = "jobs",
        group: str = "workers",
        visibility_timeout_seconds: float = 300.0,
        connect_timeout_seconds: float = 5.0,
    ) -> None:
        self.stream = stream
        self.dead_letter_stream = f"{stream}:dead-letter"
        self.group = group
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._visibility_timeout_ms = int(visibility_timeout_seconds * 1000)
        self._client: redis.Redis = redis.Redis.from_url(
            url, socket_connect_timeout=connect_timeout_seconds
        )
        self._group_ready = False

    async def publish(self, message: JobMessage) -> None:
        # XADD replies once the entry is in the stream; that reply is the confirmation.
        await self._client.xadd(self.stream, {FIELD: message.to_bytes()})

    async def get(self, timeout_seconds: float) -> RedisStreamsDelivery | None:
        await self._ensure_group()
        # First take over entries another (dead) consumer left pending for too long.
        claimed = await self._client.xautoclaim(
            self.stream, self.group, self.consumer, self._visibility_timeout_ms, "0-0", count=1
        )
        entries: list[Any] = claimed[1]
        if not entries:
            response: Any = await self._client.xreadgroup(
                self.group,
                self.consumer,
                {self.stream: ">"},
                count=1,
                block=max(1, int(timeout_seconds * 1000)),
            )
            entries = response[0][1] if response else []
        for entry_id, fields in entries:
            if fields is None:  # deleted while pending
                continue
            return RedisStreamsDelivery(
                JobMessage.from_bytes(fields[FIELD.encode()]), entry_id, self
            )
        return None

    async def settle(self, entry_id: str, then_add_to: str | None, data: bytes | None) -> None:
        async with self._client.pipeline(transaction=True) as pipeline:
            if then_add_to is not None and data is not None:
                pipeline.xadd(then_add_to, {FIELD: data})
            pipeline.xack(self.stream, self.group, entry_id)
            pipeline.xdel(self.stream, entry_id)
            await pipeline.execute()

    async def dead_letter_count(self) -> int:
        return int(await self._client.xlen(self.dead_letter_stream))

    async def depth(self) -> int:
        # Acked entries are deleted (XDEL), so the stream holds exactly the entries not yet
        # settled: waiting ones, plus those pending in a consumer's hands, which are not a backlog.
        await self._ensure_group()
        async with self._client.pipeline(transaction=False) as pipeline:
            pipeline.xlen(self.stream)
            pipeline.xpending(self.stream, self.group)
            length, pending = await pipeline.execute()
        return max(0, int(length) - int(pending["pending"]))

    async def ping(self) -> None:
        await self._client.ping()

    async def purge(self) -> None:
        """Delete the streams (tests)."""
        await self._client.delete(self.stream, self.dead_letter_stream)
        self._group_ready = False

    async def close(self) -> None:
        await self._client.aclose()

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._group_ready = True
