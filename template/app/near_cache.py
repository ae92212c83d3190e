"""Hot cache keys in process memory, in front of Redis, kept correct across instances.

A cache hit through Redis costs a network round trip and redis-py's command and parse
work; for the hottest keys (one popular item, the catalog's generation and first page)
that is most of the request. ``NearCache`` keeps what Redis returned for
``near_cache_ttl_seconds`` (one second by default), in at most ``max_entries`` entries.

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

NEAR_CACHE_INVALIDATIONS = Counter(
    "near_cache_invalidations_total",
    "Keys dropped from the in-process cache, by source (local write or another instance).",
    ["source"],
)


class NearCache:
    """A small TTL + LRU map of cache keys to the bytes Redis holds for them."""

    def __init__(
        self,
        *,
        ttl_seconds: float = 1.0,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: str, value: bytes) -> None:
        self._entries[key] = (self._clock() + self.ttl_seconds, value)
        self._entries.move_to_end(key)
        if len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)  # the least recently stored

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


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
