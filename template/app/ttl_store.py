"""Short-lived key/value storage: the in-process default behind one small interface.

Refresh tokens (and, later, the cache) live here. Production swaps in a Redis-backed
store with the same methods, so callers never know which one they talk to.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class TTLStore(Protocol):
    """Keys expire after their TTL; ``take`` reads and deletes in one atomic step."""

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None: ...
    async def get(self, key: str) -> bytes | None: ...
    async def take(self, key: str) -> bytes | None: ...
    async def delete(self, key: str) -> None: ...
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

    async def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
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
