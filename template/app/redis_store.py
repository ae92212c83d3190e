"""The production TTL store: the same methods as ``MemoryTTLStore``, on Redis (or Valkey).

Every call is one Redis command, so each is atomic across all instances of the service.
Socket timeouts are short and only a dropped connection is retried, once (a pooled
connection may have died with a restarted server): a slow or dead Redis fails fast,
and the caller (app/cache.py) decides to bypass it.
"""

from __future__ import annotations

from typing import cast

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from app.settings import Settings
from app.ttl_store import MemoryTTLStore, TTLStore


class RedisTTLStore:
    def __init__(self, client: Redis) -> None:
        self.client = client

    @classmethod
    def from_url(cls, url: str, *, socket_timeout_seconds: float) -> RedisTTLStore:
        client = Redis.from_url(
            url,
            socket_timeout=socket_timeout_seconds,
            socket_connect_timeout=socket_timeout_seconds,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        return cls(client)

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        await self.client.set(key, value, px=max(1, int(ttl_seconds * 1000)))

    async def get(self, key: str) -> bytes | None:
        return cast("bytes | None", await self.client.get(key))

    async def take(self, key: str) -> bytes | None:
        return cast("bytes | None", await self.client.getdel(key))

    async def delete(self, key: str) -> None:
        await self.client.delete(key)

    async def add(self, key: str, value: bytes, ttl_ms: int) -> bool:
        return bool(await self.client.set(key, value, px=ttl_ms, nx=True))

    async def swap(self, key: str, value: bytes, ttl_seconds: int) -> bytes | None:
        old = await self.client.set(key, value, ex=ttl_seconds, xx=True, get=True)
        return cast("bytes | None", old)

    async def expire(self, key: str, ttl_seconds: int) -> bool:
        return bool(await self.client.expire(key, ttl_seconds))

    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()


def create_store(settings: Settings) -> TTLStore:
    """Redis when REDIS_URL is set, otherwise the in-process store."""
    if not settings.redis_url:
        return MemoryTTLStore()
    return RedisTTLStore.from_url(
        settings.redis_url_with_password,
        socket_timeout_seconds=settings.redis_socket_timeout_seconds,
    )
