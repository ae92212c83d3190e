"""Practice 2: cache-aside, stampede protection, invalidation, metrics, a dead Redis."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import event, text

from app.api.items import item_cache_key
from app.auth.passwords import hash_password
from app.cache import Cache
from app.http.precompressed import identity_of
from app.main import write_fence_seconds
from app.repositories import items, users
from app.settings import Settings
from app.stores.memory import MemoryTTLStore
from tests.conftest import Login, bearer, serve

ITEMS = "/api/v1/items"


PENDING_ITEM_JOBS = "SELECT count(*) FROM items WHERE search_text IS NULL"


class ItemQueries:
    """Counts SQL statements that read the items table."""

    def __init__(self, app: FastAPI) -> None:
        self.count = 0
        self._session_factory = app.state.resources.session_factory

    async def start(self) -> None:
        """Wait (bounded) for the jobs that item writes enqueue, which read the item back,
        then count from zero: the counts must see only the queries requests make."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            async with self._session_factory() as session:
                if not await session.scalar(text(PENDING_ITEM_JOBS)):
                    self.count = 0
                    return
            await asyncio.sleep(0.02)
        pytest.fail("the item jobs did not run within 5 s")

    def __call__(self, *args: Any) -> None:
        statement = str(args[2])
        if statement.lstrip().upper().startswith("SELECT") and "FROM items" in statement:
            self.count += 1


@pytest.fixture
def item_queries(app: FastAPI) -> Iterator[ItemQueries]:
    counter = ItemQueries(app)
    engine = app.state.resources.engine.sync_engine
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


def cache_requests(cache: str, result: str) -> float:
    labels = {"cache": cache, "result": result}
    return REGISTRY.get_sample_value("cache_requests_total", labels) or 0.0


def cache_errors(operation: str) -> float:
    return REGISTRY.get_sample_value("cache_errors_total", {"operation": operation}) or 0.0


async def _create(client: httpx.AsyncClient, tokens: dict[str, str], **fields: Any) -> Any:
    body = {"name": "Lamp", "status": "published", "price_cents": 1000} | fields
    response = await client.post(ITEMS, json=body, headers=bearer(tokens))
    assert response.status_code == 201, response.text
    return response.json()


async def test_concurrent_misses_on_one_key_run_the_loader_once() -> None:
    cache = Cache(MemoryTTLStore(), ttl_seconds=60)
    calls = 0

    async def loader() -> dict[str, int]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return {"value": 42}

    results = await asyncio.gather(*(cache.get_or_load("k", loader) for _ in range(50)))
    assert calls == 1
    assert results == [{"value": 42}] * 50


async def test_fifty_concurrent_requests_for_a_cold_item_query_the_database_once(
    client: httpx.AsyncClient, login: Login, item_queries: ItemQueries
) -> None:
    item = await _create(client, await login("ada@example.com"))
    await item_queries.start()
    responses = await asyncio.gather(*(client.get(f"{ITEMS}/{item['id']}") for _ in range(50)))
    assert [response.status_code for response in responses] == [200] * 50
    assert all(response.json() == item for response in responses)
    assert item_queries.count == 1


async def test_item_reads_hit_the_cache_and_count_hits_and_misses(
    client: httpx.AsyncClient, login: Login, item_queries: ItemQueries
) -> None:
    item = await _create(client, await login("ada@example.com"))
    hits, misses = cache_requests("item", "hit"), cache_requests("item", "miss")
    await item_queries.start()
    for _ in range(3):
        assert (await client.get(f"{ITEMS}/{item['id']}")).json() == item
    assert item_queries.count == 1
    assert cache_requests("item", "miss") == misses + 1
    assert cache_requests("item", "hit") == hits + 2


async def test_a_hit_is_the_stored_body_as_is_with_the_misses_headers(
    app: FastAPI, client: httpx.AsyncClient, login: Login
) -> None:
    item = await _create(client, await login("ada@example.com"))
    miss, hit = [await client.get(f"{ITEMS}/{item['id']}") for _ in range(2)]
    stored = await app.state.resources.cache.get_or_load_json(
        item_cache_key(item["id"]), _fail_if_called
    )
    assert hit.content == miss.content == identity_of(stored)
    assert hit.json() == item
    for header in ("content-type", "etag", "cache-control"):
        assert hit.headers[header] == miss.headers[header], header


async def _fail_if_called() -> bytes:
    pytest.fail("the value was not cached")


async def test_first_catalog_page_is_cached_per_filter_and_deeper_pages_are_not(
    client: httpx.AsyncClient, login: Login, item_queries: ItemQueries
) -> None:
    ada = await login("ada@example.com")
    for price in (100, 200, 300):
        await _create(client, ada, price_cents=price)
    await item_queries.start()
    first = await client.get(ITEMS, params={"limit": 2})
    assert (await client.get(ITEMS, params={"limit": 2})).json() == first.json()
    assert item_queries.count == 1
    cheap = await client.get(ITEMS, params={"limit": 2, "max_price_cents": 150})
    assert [row["price_cents"] for row in cheap.json()["items"]] == [100]
    assert item_queries.count == 2
    cursor = first.json()["next_cursor"]
    for _ in range(2):
        await client.get(ITEMS, params={"limit": 2, "cursor": cursor})
    assert item_queries.count == 4


async def test_every_write_is_visible_on_the_next_read(
    client: httpx.AsyncClient, login: Login
) -> None:
    ada = await login("ada@example.com")
    item = await _create(client, ada, name="Desk")
    url = f"{ITEMS}/{item['id']}"

    async def catalog_names() -> list[str]:
        return [row["name"] for row in (await client.get(ITEMS)).json()["items"]]

    assert (await client.get(url)).json()["name"] == "Desk"
    assert await catalog_names() == ["Desk"]

    await client.patch(url, json={"name": "Table"}, headers=bearer(ada))
    assert (await client.get(url)).json()["name"] == "Table"
    assert await catalog_names() == ["Table"]

    await _create(client, ada, name="Chair")
    assert await catalog_names() == ["Chair", "Table"]

    await client.patch(url, json={"status": "draft"}, headers=bearer(ada))
    assert (await client.get(url)).status_code == 404
    assert await catalog_names() == ["Chair"]
    # The owner still sees the draft (uncached: it is not public).
    assert (await client.get(url, headers=bearer(ada))).json()["status"] == "draft"

    await client.delete(url, headers=bearer(ada))
    assert (await client.get(url, headers=bearer(ada))).status_code == 404


async def test_cached_values_expire_after_the_ttl_plus_jitter() -> None:
    now = 0.0
    store = MemoryTTLStore(clock=lambda: now)
    cache = Cache(store, ttl_seconds=100, jitter_ratio=0.2)
    ttls = {round(cache.ttl_with_jitter(), 3) for _ in range(200)}
    assert min(ttls) >= 100
    assert max(ttls) <= 120
    assert len(ttls) > 1  # jittered, not one fixed value
    await cache.get_or_load("k", _constant(1))
    now = 99.0
    assert await cache.get_or_load("k", _constant(2)) == 1
    now = 121.0
    assert await cache.get_or_load("k", _constant(3)) == 3


async def test_a_failing_loader_fails_only_its_own_request() -> None:
    """The first request's loader fails (its own bad input, a dropped connection...): the
    requests waiting for that key load for themselves, once between them, and succeed."""
    cache = Cache(MemoryTTLStore())
    loading = asyncio.Event()
    calls = 0

    async def failing() -> bytes:
        loading.set()
        await asyncio.sleep(0.01)
        raise ValueError("this request's own failure")

    async def working() -> bytes:
        nonlocal calls
        calls += 1
        return b'{"id":1}'

    first = asyncio.create_task(cache.get_or_load_json("items:item:1", failing))
    await loading.wait()
    waiters = [cache.get_or_load_json("items:item:1", working) for _ in range(5)]
    results = await asyncio.gather(first, *waiters, return_exceptions=True)
    assert isinstance(results[0], ValueError)
    assert results[1:] == [b'{"id":1}'] * 5
    assert calls == 1  # still one database read for the five


class AnsweredAfterTheHolderUnlocks(MemoryTTLStore):
    """One store shared by two instances. The waiting instance's first read of the value
    is answered only after the loading instance has stored it and released the lock: the
    order a loaded machine now and then gives the two instances' Redis commands."""

    def __init__(self) -> None:
        super().__init__()
        self.contended = False  # an instance found the lock taken and waits
        self.polled = asyncio.Event()  # the waiting instance read the value, finding none
        self.unlocked = asyncio.Event()

    async def add(self, key: str, value: bytes, ttl_ms: int) -> bool:
        added = await super().add(key, value, ttl_ms)
        self.contended = self.contended or not added
        return added

    async def get(self, key: str) -> bytes | None:
        value = await super().get(key)
        if self.contended and not key.startswith("lock:") and not self.polled.is_set():
            self.polled.set()
            await self.unlocked.wait()  # the reply (no value yet) arrives late
        return value

    async def delete(self, key: str) -> None:
        await super().delete(key)
        if key.startswith("lock:"):
            self.unlocked.set()


async def test_a_load_that_ends_between_a_waiters_two_reads_is_not_repeated() -> None:
    """Across instances: a waiter that finds the lock released reads the value again
    before it loads, since the holder stores the value before it unlocks."""
    store = AnsweredAfterTheHolderUnlocks()
    holder, waiter = Cache(store), Cache(store)
    calls = 0

    async def loader() -> bytes:
        nonlocal calls
        calls += 1
        await store.polled.wait()  # finish while the waiter's read is on its way
        return b'{"id":1}'

    async with asyncio.timeout(5):
        results = await asyncio.gather(
            holder.get_or_load_json("items:item:1", loader),
            waiter.get_or_load_json("items:item:1", loader),
        )
    assert list(results) == [b'{"id":1}'] * 2
    assert calls == 1


OLD, NEW_KEY = b'{"id":1,"status":"published"}', "items:item:1"


async def test_a_lagging_replica_cannot_put_an_unpublished_item_back_in_the_cache() -> None:
    now = 0.0
    store = MemoryTTLStore(clock=lambda: now)
    cache = Cache(store, ttl_seconds=60, write_fence_seconds=6.0, clock=lambda: now)
    reading, release = asyncio.Event(), asyncio.Event()

    async def slow_lagging_read() -> bytes:  # started before the unpublish committed
        reading.set()
        await release.wait()
        return OLD

    async def lagging_read() -> bytes:  # a replica that has not replayed the unpublish
        return OLD

    fill = asyncio.create_task(cache.get_or_load_json(NEW_KEY, slow_lagging_read))
    await reading.wait()
    await cache.invalidate(NEW_KEY)  # the unpublish committed and invalidated the key
    release.set()
    assert await fill == OLD  # that request answers with what it read ...
    assert await store.get(NEW_KEY) is None  # ... but the cache does not keep it
    # A fill that starts after the write, on a replica still behind: served, not stored.
    assert await cache.get_or_load_json(NEW_KEY, lagging_read) == OLD
    assert await store.get(NEW_KEY) is None
    # Once replicas are past the allowed lag, fills are stored again.
    now = 6.5
    await cache.get_or_load_json(NEW_KEY, lagging_read)
    assert await store.get(NEW_KEY) == OLD


def test_writes_fence_keys_as_long_as_a_replica_may_lag(settings: Settings) -> None:
    assert write_fence_seconds(settings) == 0  # no replicas, no lag: no fences
    replicated = settings.model_copy(
        update={"database_read_urls": ["postgresql+asyncpg://app@replica:5432/app"]}
    )
    # The replicas' allowed lag plus the age of its measurement.
    assert write_fence_seconds(replicated) == 5.0 + 1.0


def _constant(value: int) -> Any:
    async def load() -> int:
        return value

    return load


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_dead_redis_is_bypassed_counted_and_shown_degraded(settings: Settings) -> None:
    dead = settings.model_copy(
        update={
            "redis_url": f"redis://127.0.0.1:{_closed_port()}/0",
            "cache_circuit_open_seconds": 60,
        }
    )
    async with serve(dead) as (application, client):
        resources = application.state.resources
        async with resources.session_factory() as session:
            user = await users.create_user(
                session, "ada@example.com", await hash_password("x" * 12)
            )
            item = await items.create_item(
                session, user.id, {"name": "Desk", "status": "published", "price_cents": 5}
            )
        errors = cache_errors("get")
        for _ in range(10):
            response = await client.get(f"{ITEMS}/{item.id}")
            assert response.status_code == 200
            assert response.json()["name"] == "Desk"
            assert (await client.get(ITEMS)).json()["items"][0]["id"] == item.id
        # The circuit opened on the first error: later requests did not try Redis.
        assert cache_errors("get") == errors + 1
        assert cache_requests("item", "bypass") > 0
        ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["checks"]["cache"]["status"] == "degraded"
    assert ready.json()["checks"]["database"]["status"] == "ok"


async def test_bodies_cached_by_the_previous_release_are_never_served_and_writes_drop_them(
    app: FastAPI, client: httpx.AsyncClient, login: Login
) -> None:
    """Packed bodies live under their own keys: during a rolling deploy, an older instance's
    plain body is not read as packed, and a write here still drops what the older reads."""
    tokens = await login("ada@example.com")
    item = await _create(client, tokens)
    store = app.state.resources.store
    previous = f"items:item:{item['id']}"
    await store.set(previous, b'{"name": "from the previous release"}', 60)
    assert (await client.get(f"{ITEMS}/{item['id']}")).json() == item
    patched = await client.patch(
        f"{ITEMS}/{item['id']}", json={"name": "Table"}, headers=bearer(tokens)
    )
    assert patched.status_code == 200
    assert await store.get(previous) is None
