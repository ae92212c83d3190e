"""Cache-aside over the TTL store (Redis in production, in-process on the defaults).

- ``get_or_load`` reads a key, and on a miss runs the loader once and stores its result
  (orjson) for ``cache_ttl_seconds`` plus random jitter. ``get_or_load_json`` does the same
  with an already serialized JSON body, which a route returns as is on a hit: no decoding,
  no validation and no re-encoding, the largest part of a cached read's cost.
- Stampede protection: concurrent misses on one key in one process share one loader
  call (one future per key); across instances a short lock (SET NX PX) lets one
  instance recompute while the others poll for its value. A loader that fails fails
  only its own caller: the requests waiting on it load for themselves (again one at a
  time through the lock), since the error may be about that request alone.
- Write fences: with read replicas, a fill can read a replica that has not replayed a
  write yet and put the old value back right after the write invalidated it (an
  unpublished item would stay public for a TTL). So ``invalidate`` (and
  ``bump_generation(..., fence=True)``) also writes a fence key that lives
  ``write_fence_seconds`` (the replicas' allowed lag plus the age of their measurement):
  a fill that finds a fence serves its value but does not store it, and a fill that
  stored while a fence appeared deletes what it stored. 0 (no replicas) turns fences off.
- List pages carry a generation in their key, so a write invalidates every cached
  first page with one write (``bump_generation``), whatever the filters were.
- Hot keys are also kept in process memory for about a second (app/near_cache.py), so
  a hit on them costs no Redis round trip; every invalidation reaches every instance's
  copy through Redis pub/sub, and requests with a read-your-writes token skip it.
- Fill budgets: each cache name (one per route: "catalog", "item") may store at most
  ``fill_budget_bytes`` of new values per ``ttl_seconds`` window, counted across
  instances in the store (``FillBudget``). Past it, that route's misses are answered from
  the loader without being stored until the window ends. Clients choose URLs, so without
  it every distinct filter combination stored a body (320 anonymous catalog URLs held
  804 MB of Redis); with it, what one route holds stays under about twice the budget
  (this window's fills and the last window's, still alive), whatever clients ask.
- A failing store is bypassed: the error is counted and logged (at most every
  ``ERROR_LOG_INTERVAL_SECONDS``), and the cache stays off for ``circuit_open_seconds``
  so a dead Redis does not add a timeout to every request. Data then comes from the
  database, and values written meanwhile can stay stale until their TTL ends.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

import orjson
from prometheus_client import Counter
from redis.exceptions import RedisError

from app.near_cache import InvalidationListener, NearCache
from app.stores import TTLStore

logger = logging.getLogger(__name__)

CACHE_REQUESTS = Counter(
    "cache_requests_total",
    "Cache lookups by cache name and result (hit, miss, or bypass while the store is down).",
    ["cache", "result"],
)
CACHE_ERRORS = Counter(
    "cache_errors_total", "Failed cache-store operations; the cache was bypassed.", ["operation"]
)
CACHE_FILLS_OVER_BUDGET = Counter(
    "cache_fills_over_budget_total",
    "Misses answered without storing the value: the cache's fill budget for this window "
    "is spent (many distinct URLs, e.g. a crawler or a flood of filter combinations).",
    ["cache"],
)

ERROR_LOG_INTERVAL_SECONDS = 10.0
GENERATION_TTL_SECONDS = 7 * 86400
_T = TypeVar("_T")


class _Circuit:
    """Whether the store is being bypassed, shared by a cache and its views."""

    __slots__ = ("last_error_logged", "open_until", "suppressed_errors")

    def __init__(self) -> None:
        self.open_until = float("-inf")
        self.last_error_logged = float("-inf")
        self.suppressed_errors = 0


class FillBudget:
    """The bytes one cache name may store per window, counted across instances.

    Each stored value adds its size to a counter in the store that lives one window (a
    fixed window, like the rate limits: app/auth/rate_limit.py). When the total passes
    ``max_bytes``, this instance stores nothing more under that name until the window
    ends; another instance learns it at its own next fill. Only fills pay for this (one
    store round trip each); hits never look at it.
    """

    __slots__ = ("_spent_until", "key", "max_bytes", "window_seconds")

    def __init__(self, name: str, *, max_bytes: int, window_seconds: int) -> None:
        self.key = f"fill-budget:{name}"
        self.max_bytes = max_bytes
        self.window_seconds = window_seconds
        self._spent_until = float("-inf")

    def admits(self, now: float) -> bool:
        return now >= self._spent_until

    async def spend(self, store: TTLStore, size: int, now: float) -> None:
        total, resets_in = await store.hit(self.key, self.window_seconds, size)
        if total >= self.max_bytes:
            self._spent_until = now + resets_in


class Cache:
    def __init__(
        self,
        store: TTLStore,
        *,
        ttl_seconds: int = 60,
        jitter_ratio: float = 0.1,
        lock_timeout_ms: int = 2000,
        circuit_open_seconds: float = 5.0,
        write_fence_seconds: float = 0.0,
        fill_budget_bytes: int = 0,
        near: NearCache | None = None,
        invalidations: InvalidationListener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.ttl_seconds = ttl_seconds
        self.jitter_ratio = jitter_ratio
        self.lock_timeout_ms = lock_timeout_ms
        self.circuit_open_seconds = circuit_open_seconds
        self.write_fence_seconds = write_fence_seconds
        self.fill_budget_bytes = fill_budget_bytes  # per cache name and window; 0: none
        self._budgets: dict[str, FillBudget] = {}  # shared with the views, like the circuit
        self._clock = clock
        self._inflight: dict[str, asyncio.Future[bytes | None]] = {}
        self._circuit = _Circuit()
        # The near cache is only as good as its invalidations: with several processes,
        # it is read only while the listener is subscribed.
        self._near = near
        self._invalidations = invalidations

    def without_near_cache(self) -> Cache:
        """This cache as a read-your-writes request must see it: Redis, never memory."""
        view = copy.copy(self)  # shares the store, the in-flight loads and the circuit
        view._near = None
        return view

    def near_cache_size(self) -> int:
        """How many keys this process holds in memory (0 without a near cache)."""
        return 0 if self._near is None else len(self._near)

    def start(self) -> None:
        if self._invalidations is not None:
            self._invalidations.start()

    async def stop(self) -> None:
        if self._invalidations is not None:
            await self._invalidations.stop()

    def _usable_near(self) -> NearCache | None:
        if self._near is None:
            return None
        if self._invalidations is not None and not self._invalidations.subscribed.is_set():
            return None
        return self._near

    async def _get(self, key: str) -> bytes | None:
        near = self._usable_near()
        if near is not None:
            raw = near.get(key)
            if raw is not None:
                return raw
        raw = await self._call("get", lambda: self._store.get(key), None)
        if raw is not None and near is not None:
            near.put(key, raw)
        return raw

    async def _forget(self, key: str) -> None:
        """Drop ``key`` from this process's memory and, through Redis, from every other's."""
        if self._near is None:
            return
        self._near.drop(key)
        if self._invalidations is not None:
            await self._call("publish", functools.partial(self._invalidations.publish, key), None)

    async def get_or_load(
        self,
        key: str,
        loader: Callable[[], Awaitable[Any]],
        *,
        cache: str = "default",
        fence: str | None = None,
    ) -> Any:
        """The cached JSON value of ``key``, or ``loader()``'s (None is returned, not stored)."""

        async def load_json() -> bytes | None:
            value = await loader()
            return None if value is None else orjson.dumps(value)

        raw = await self.get_or_load_json(key, load_json, cache=cache, fence=fence)
        return None if raw is None else orjson.loads(raw)

    @overload
    async def get_or_load_json(
        self,
        key: str,
        loader: Callable[[], Awaitable[bytes]],
        *,
        cache: str = ...,
        fence: str | None = ...,
    ) -> bytes: ...
    @overload
    async def get_or_load_json(
        self,
        key: str,
        loader: Callable[[], Awaitable[bytes | None]],
        *,
        cache: str = ...,
        fence: str | None = ...,
    ) -> bytes | None: ...
    async def get_or_load_json(
        self,
        key: str,
        loader: Callable[[], Awaitable[bytes | None]],
        *,
        cache: str = "default",
        fence: str | None = None,
    ) -> bytes | None:
        """The cached JSON body of ``key``, or ``loader()``'s (None is returned, not stored).

        ``fence`` names the write fence guarding the fill (default: ``key`` itself; the
        family name for keys built by ``generation_key``).
        """
        if self._bypassed():
            CACHE_REQUESTS.labels(cache, "bypass").inc()
            return await loader()
        raw = await self._get(key)
        if raw is not None:
            CACHE_REQUESTS.labels(cache, "hit").inc()
            return raw
        CACHE_REQUESTS.labels(cache, "miss").inc()
        budgeted = self._within_budget(cache, loader)
        if budgeted is None:  # this window's fill budget is spent: answer, do not store
            return await loader()
        loader = budgeted
        fence_key = f"fence:{fence or key}"
        while (inflight := self._inflight.get(key)) is not None:
            try:
                return await asyncio.shield(inflight)
            except asyncio.CancelledError:
                if not inflight.cancelled():
                    raise
            except Exception:  # noqa: BLE001, S110 - the other request's error is its own
                pass
            # The request loading it went away or failed: the first waiter to get here
            # loads in its place, the others wait for that one (or find its value).
            raw = await self._call("get", lambda: self._store.get(key), None)
            if raw is not None:
                return raw
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value, kept = await self._load_once(key, loader, fence_key)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: no "never retrieved" noise when nobody waited
            raise
        else:
            future.set_result(value)
        finally:
            del self._inflight[key]
        self._keep_near(key, value if kept else None)  # never a fenced fill
        return value

    def _keep_near(self, key: str, value: bytes | None) -> None:
        near = self._usable_near()
        if value is not None and near is not None:
            near.put(key, value)

    def _within_budget(
        self, cache: str, loader: Callable[[], Awaitable[bytes | None]]
    ) -> Callable[[], Awaitable[bytes | None]] | None:
        """``loader``, spending what it loads from ``cache``'s fill budget; None when that
        budget is spent for this window (no budget: ``loader`` as it is)."""
        if self.fill_budget_bytes <= 0:
            return loader
        budget = self._budgets.get(cache)
        if budget is None:
            budget = FillBudget(
                cache, max_bytes=self.fill_budget_bytes, window_seconds=self.ttl_seconds
            )
            self._budgets[cache] = budget
        if not budget.admits(self._clock()):
            CACHE_FILLS_OVER_BUDGET.labels(cache).inc()
            return None

        async def metered() -> bytes | None:
            value = await loader()
            if value is not None:
                size = len(value)
                await self._call(
                    "budget", lambda: budget.spend(self._store, size, self._clock()), None
                )
            return value

        return metered

    async def invalidate(self, *keys: str) -> None:
        """Drop ``keys`` after a committed write, fencing them first (see the module doc)."""
        for key in keys:
            await self._fence(key)
            await self._call("delete", functools.partial(self._store.delete, key), None)
            await self._forget(key)

    async def generation(self, name: str) -> str:
        """The current generation of the key family ``name`` (part of its keys)."""
        key = f"{name}:generation"
        raw = await self._get(key)
        if raw is None:
            # First use, or the key expired or was evicted: start a fresh, unguessable one.
            fresh = secrets.token_hex(6).encode()
            await self._call("add", lambda: self._add(key, fresh), False)
            raw = await self._call("get", lambda: self._store.get(key), None) or fresh
        return raw.decode()

    async def generation_key(self, name: str, *parts: object) -> str:
        """A key in the family ``name`` at its current generation, e.g. one list page."""
        return ":".join([name, await self.generation(name), *map(str, parts)])

    async def bump_generation(self, name: str, *, fence: bool = False) -> None:
        """Make every key built on the old generation of ``name`` unreachable (O(1)).

        ``fence``: also keep lagging replicas' reads out of the new generation's keys for a
        while (for writes that take something out of public view).
        """
        if fence:
            await self._fence(name)
        fresh = secrets.token_hex(6).encode()
        key = f"{name}:generation"
        await self._call("set", lambda: self._store.set(key, fresh, GENERATION_TTL_SECONDS), None)
        await self._forget(key)

    async def ping(self) -> None:
        """Raise when the store is unreachable (for /readyz); ignores the circuit."""
        await self._store.ping()

    def ttl_with_jitter(self) -> float:
        return self.ttl_seconds * (1 + random.random() * self.jitter_ratio)  # noqa: S311

    async def _add(self, key: str, value: bytes) -> bool:
        return await self._store.add(key, value, GENERATION_TTL_SECONDS * 1000)

    async def _fence(self, name: str) -> None:
        if self.write_fence_seconds > 0:
            key, seconds = f"fence:{name}", self.write_fence_seconds
            await self._call("set", lambda: self._store.set(key, b"1", seconds), None)

    async def _fenced(self, fence_key: str) -> bool:
        if self.write_fence_seconds <= 0:
            return False
        return await self._call("get", lambda: self._store.get(fence_key), None) is not None

    async def _load_once(
        self, key: str, loader: Callable[[], Awaitable[bytes | None]], fence_key: str
    ) -> tuple[bytes | None, bool]:
        """The value, and whether the cache keeps it (False for a fenced fill)."""
        lock_key = f"lock:{key}"
        locked = await self._call(
            "lock", lambda: self._store.add(lock_key, b"1", self.lock_timeout_ms), True
        )
        if not locked:
            raw = await self._wait_for(key, lock_key)
            if raw is not None:
                return raw, True
        try:
            fenced = await self._fenced(fence_key)  # a write within the fence window
            value = await loader()
            if value is not None and not fenced:
                await self._call(
                    "set", lambda: self._store.set(key, value, self.ttl_with_jitter()), None
                )
                if await self._fenced(fence_key):  # a write landed while we loaded
                    await self._call("delete", lambda: self._store.delete(key), None)
                    fenced = True
            return value, not fenced
        finally:
            if locked:
                await self._call("unlock", lambda: self._store.delete(lock_key), None)

    async def _wait_for(self, key: str, lock_key: str) -> bytes | None:
        """Poll for the value another instance is computing, while its lock lives."""
        deadline = self._clock() + self.lock_timeout_ms / 1000
        interval = min(0.05, self.lock_timeout_ms / 20_000)
        while self._clock() < deadline:
            await asyncio.sleep(interval)
            raw = await self._call("get", lambda: self._store.get(key), None)
            if raw is not None:
                return raw
            if await self._call("get", lambda: self._store.get(lock_key), None) is None:
                # The other instance finished or died. It stores its value before it lets
                # go of the lock, so the value may have landed since the read above: read
                # it again, or this instance loads a second time.
                return await self._call("get", lambda: self._store.get(key), None)
        return None

    def _bypassed(self) -> bool:
        return self._clock() < self._circuit.open_until

    async def _call(self, operation: str, command: Callable[[], Awaitable[_T]], default: _T) -> _T:
        if self._bypassed():
            return default
        try:
            return await command()
        except (RedisError, OSError) as error:
            CACHE_ERRORS.labels(operation).inc()
            now = self._clock()
            self._circuit.open_until = now + self.circuit_open_seconds
            if now - self._circuit.last_error_logged >= ERROR_LOG_INTERVAL_SECONDS:
                logger.warning(
                    "cache %s failed (%s similar errors not logged); bypassing the cache for %ss",
                    operation,
                    self._circuit.suppressed_errors,
                    self.circuit_open_seconds,
                    exc_info=error,
                )
                self._circuit.last_error_logged = now
                self._circuit.suppressed_errors = 0
            else:
                self._circuit.suppressed_errors += 1
            return default
