"""The in-process TTL store: the default when REDIS_URL is empty (development, tests)."""

from __future__ import annotations

import time
from collections.abc import Callable


class MemoryTTLStore:
    """A dict with expiry times, for one process (development and tests).

    Each method runs without awaiting, so on one event loop it is atomic.
    Expired keys are dropped when touched and by a sweep every ``sweep_every`` writes.
    """

    def __init__(
        self, *, sweep_every: int = 1000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: dict[str, tuple[float, bytes]] = {}
        self._clock = clock
        self._sweep_every = sweep_every
        self._writes = 0

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self._entries[key] = (self._clock() + ttl_seconds, value)
        self._writes += 1
        if self._writes % self._sweep_every == 0:
            self._sweep()

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= self._clock():
            del self._entries[key]
            return None
        return value

    async def take(self, key: str) -> bytes | None:
        value = await self.get(key)
        self._entries.pop(key, None)
        return value

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    async def add(self, key: str, value: bytes, ttl_ms: int) -> bool:
        if await self.get(key) is not None:
            return False
        await self.set(key, value, ttl_ms / 1000)
        return True

    async def swap(self, key: str, value: bytes, ttl_seconds: int) -> bytes | None:
        old = await self.get(key)
        if old is not None:
            await self.set(key, value, ttl_seconds)
        return old

    async def expire(self, key: str, ttl_seconds: int) -> bool:
        value = await self.get(key)
        if value is None:
            return False
        await self.set(key, value, ttl_seconds)
        return True

    async def hit(self, key: str, window_seconds: int, amount: int = 1) -> tuple[int, float]:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is None or entry[0] <= now:
            entry = (now + window_seconds, b"0")
        count = int(entry[1]) + amount
        self._entries[key] = (entry[0], str(count).encode())
        return count, entry[0] - now

    def ttl_of(self, key: str) -> float | None:
        """Seconds until ``key`` expires (None when absent); for tests and debugging."""
        entry = self._entries.get(key)
        return None if entry is None else entry[0] - self._clock()

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _sweep(self) -> None:
        now = self._clock()
        for key in [key for key, (expires_at, _) in self._entries.items() if expires_at <= now]:
            del self._entries[key]
