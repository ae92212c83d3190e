"""Short-lived key/value storage: the in-process default behind one small interface.

Refresh tokens and the cache live here. Production swaps in the Redis-backed store
(app/redis_store.py) with the same methods, so callers never know which one they talk to.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class TTLStore(Protocol):
    """Keys expire after their TTL; ``take`` reads and deletes in one atomic step."""

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None: ...
    async def get(self, key: str) -> bytes | None: ...
    async def take(self, key: str) -> bytes | None: ...
    async def delete(self, key: str) -> None: ...
    async def add(self, key: str, value: bytes, ttl_ms: int) -> bool:
        """Set only if ``key`` is absent (a lock); True when this call set it."""
        ...

    async def swap(self, key: str, value: bytes, ttl_seconds: int) -> bytes | None:
        """Replace ``key`` only if it exists and return its old value, atomically."""
        ...

    async def expire(self, key: str, ttl_seconds: int) -> bool:
        """Restart ``key``'s TTL; False when it no longer exists."""
        ...

    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        """Count one event in ``key``'s fixed window, which starts at its first event.

        Returns the count so far and the seconds until the window ends, atomically.
        """
        ...

    async def ping(self) -> None: ...
    async def close(self) -> None: ...


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

    async def hit(self, key: str, window_seconds: int) -> tuple[int, float]:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is None or entry[0] <= now:
            entry = (now + window_seconds, b"0")
        count = int(entry[1]) + 1
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
