"""Short-lived key/value stores behind one small interface, chosen by REDIS_URL.

Refresh tokens, login rate limits and the cache (app/cache.py) live here:

- empty              -> :class:`MemoryTTLStore` (a dict inside the process; app/stores/memory.py)
- redis:// rediss:// -> :class:`RedisTTLStore` (Redis or Valkey; app/stores/redis.py)

Both have the same methods, so callers never know which one they talk to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from app.settings import StoreSettings


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

    async def hit(self, key: str, window_seconds: int, amount: int = 1) -> tuple[int, float]:
        """Count ``amount`` (one event, or a size) in ``key``'s fixed window, which starts at
        its first count.

        Returns the total so far and the seconds until the window ends, atomically.
        """
        ...

    async def ping(self) -> None: ...
    async def close(self) -> None: ...


def create_store(settings: StoreSettings) -> TTLStore:
    """Redis when REDIS_URL is set, otherwise the in-process store."""
    if not settings.redis_url:
        from app.stores.memory import MemoryTTLStore  # noqa: PLC0415

        return MemoryTTLStore()
    from app.stores.redis import RedisTTLStore  # noqa: PLC0415 - imports the redis client

    return RedisTTLStore.from_url(
        settings.redis_url_with_password,
        socket_timeout_seconds=settings.redis_socket_timeout_seconds,
    )
