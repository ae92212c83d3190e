"""The in-process broker of the embedded defaults: an asyncio queue and a dead-letter list.

Messages live only as long as the process; the outbox row is the durable copy until the
relay hands it over, so a restart loses at most the jobs already moved into this queue.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from app.jobs.message import JobMessage


@dataclass(slots=True)
class MemoryDelivery:
    message: JobMessage
    broker: MemoryBroker
    settled: bool = field(default=False)

    async def ack(self) -> None:
        self.settled = True

    async def dead_letter(self) -> None:
        self.settled = True
        self.broker.dead_letters.append(self.message)

    async def release(self) -> None:
        self.settled = True
        self.broker.queue.put_nowait(self.message)


class MemoryBroker:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[JobMessage] = asyncio.Queue()
        self.dead_letters: list[JobMessage] = []

    async def publish(self, message: JobMessage) -> None:
        self.queue.put_nowait(message)

    async def get(self, timeout_seconds: float) -> MemoryDelivery | None:
        try:
            async with asyncio.timeout(timeout_seconds):
                message = await self.queue.get()
        except TimeoutError:
            return None
        return MemoryDelivery(message, self)

    async def dead_letter_count(self) -> int:
        return len(self.dead_letters)

    async def depth(self) -> int:
        return self.queue.qsize()

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None
