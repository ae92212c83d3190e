"""The production TTL store: the same methods as ``MemoryTTLStore``, on Redis (or Valkey).

Every call is one Redis command (or one MULTI/EXEC), so each is atomic across all
instances of the service. Socket timeouts are short; a dropped connection or a timeout
is retried with exponential backoff for about two seconds in all, which bridges a
Redis restart or failover without an error, and bounds how long a dead Redis can hold
a request. Then the caller decides: app/cache.py bypasses the cache, the session
endpoints answer 503 (app/auth/session_store.py).
"""

from __future__ import annotations

from typing import cast

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Waits of 0.1, 0.2, 0.4, 0.4, 0.4, 0.4 s between attempts: 1.9 s of retrying in all.
RETRY_BACKOFF = ExponentialBackoff(cap=0.4, base=0.05)
RETRIES = 6


def retry_policy() -> Retry:
    """Retry what a restarting server causes: refused/dropped connections and timeouts."""
    return Retry(RETRY_BACKOFF, RETRIES, supported_errors=(RedisConnectionError, RedisTimeoutError))


class RedisTTLStore:
    def __init__(self, client: Redis) -> None:
        self.client = client

    @classmethod
    def from_url(cls, url: str, *, socket_timeout_seconds: float) -> RedisTTLStore:
        client = Redis.from_url(
            url,
            socket_timeout=socket_timeout_seconds,
            socket_connect_timeout=socket_timeout_seconds,
            retry=retry_policy(),
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

    async def hit(self, key: str, window_seconds: int, amount: int = 1) -> tuple[int, float]:
        # One MULTI/EXEC: create the counter with its TTL if absent, count, read the TTL.
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=window_seconds, nx=True)
            pipe.incrby(key, amount)
            pipe.pttl(key)
            _, count, ttl_ms = await pipe.execute()
        return int(count), max(int(ttl_ms), 0) / 1000

    async def ping(self) -> None:
        await self.client.ping()

    async def close(self) -> None:
        await self.client.aclose()
