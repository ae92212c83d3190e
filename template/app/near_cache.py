"""Hot cache keys in process memory, in front of Redis, kept correct across instances.

A cache hit through Redis costs a network round trip and redis-py's command and parse
work; for the hottest keys (one popular item, the catalog's generation and first page)
that is most of the request. ``NearCache`` keeps what Redis returned for
``near_cache_ttl_seconds`` (one second by default), in at most ``max_entries`` entries
holding at most ``max_bytes`` (keys and values, plus a fixed overhead per entry): a
count alone let 320 distinct catalog URLs of 2.3 MiB each hold 736 MiB. Expired entries
are freed as soon as the cache is next used, not when they are next read: every entry
lives the same TTL, so the oldest stored is the first to expire and a sweep from that
end stops at the first live one.

Correctness across instances: every invalidation the cache makes (``Cache.invalidate``,
``Cache.bump_generation``) drops the key here at once and publishes it on the Redis
channel ``INVALIDATION_CHANNEL``; ``InvalidationListener`` drops it in every other
process. Until that message arrives (milliseconds), or if it is lost while the listener
reconnects (it then clears everything), another instance can serve the old value for at
most the TTL. A request carrying a read-your-writes token never reads this cache
(``Cache.without_near_cache``): it gets Redis or the database, as before.

redis-py's client-side caching (RESP3 CLIENT TRACKING) would do the same, but its asyncio
client does not offer it (redis-py 8.1): this module is that, for the keys we choose.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

INVALIDATION_CHANNEL = "cache:invalidate"
RECONNECT_DELAY_SECONDS = 1.0
# What an entry costs beyond its key's and value's bytes: the two objects' headers, the
# tuple and the ordered dict's slot and links (about 200 bytes on CPython 3.11).
ENTRY_OVERHEAD_BYTES = 200

NEAR_CACHE_INVALIDATIONS = Counter(
    "near_cache_invalidations_total",
    "Keys dropped from the in-process cache, by source (local write or another instance).",
    ["source"],
)


class NearCache:
    """A small TTL + LRU map of cache keys to the bytes Redis holds for them, bounded in
    entries and in bytes."""

    def __init__(
        self,
        *,
        ttl_seconds: float = 1.0,
        max_entries: int = 1024,
        max_bytes: int = 32 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        # Least recently stored first; every entry lives ttl_seconds, so also soonest to expire.
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0

    def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._clock():
            return entry[1]
        self._sweep()  # a miss is followed by a Redis round trip: this costs nothing beside it
        return None

    def put(self, key: str, value: bytes) -> None:
        self.drop(key)
        size = _size(key, value)
        if size > self.max_bytes:
            return  # it would push out everything else
        self._sweep()
        while self._entries and (
            len(self._entries) >= self.max_entries or self._bytes + size > self.max_bytes
        ):
            self._remove(next(iter(self._entries)))  # the least recently stored
        self._entries[key] = (self._clock() + self.ttl_seconds, value)
        self._bytes += size

    def drop(self, key: str) -> None:
        if key in self._entries:
            self._remove(key)

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    @property
    def size_bytes(self) -> int:
        """What the entries take, as counted against ``max_bytes``."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def _sweep(self) -> None:
        """Free the expired entries: they are the oldest, at the front."""
        now = self._clock()
        while self._entries:
            key, (expires_at, _) = next(iter(self._entries.items()))
            if expires_at > now:
                return
            self._remove(key)

    def _remove(self, key: str) -> None:
        _, value = self._entries.pop(key)
        self._bytes -= _size(key, value)


def _size(key: str, value: bytes) -> int:
    return len(key) + len(value) + ENTRY_OVERHEAD_BYTES


class InvalidationListener:
    """Drops from ``near`` every key another instance publishes as invalidated."""

    def __init__(self, client: Redis, near: NearCache) -> None:
        self._client = client
        self._near = near
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def publish(self, key: str) -> None:
        await self._client.publish(INVALIDATION_CHANNEL, key)

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="near-cache-invalidations")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(INVALIDATION_CHANNEL)
                    # Whatever was published while we were not listening is lost: start clean.
                    self._near.clear()
                    self.subscribed.set()
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._near.drop(message["data"].decode())
                            NEAR_CACHE_INVALIDATIONS.labels("remote").inc()
            except (RedisError, OSError) as error:
                self.subscribed.clear()
                self._near.clear()
                logger.warning(
                    "near cache: invalidation channel lost; cleared, reconnecting",
                    exc_info=error,
                )
                await asyncio.sleep(RECONNECT_DELAY_SECONDS)
