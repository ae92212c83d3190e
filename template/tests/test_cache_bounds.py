"""What the cache may hold, whatever URLs clients send: the near cache bounded in bytes
with expired entries freed, and a fill budget per route counted across instances."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from app.cache import Cache
from app.near_cache import ENTRY_OVERHEAD_BYTES, NearCache
from app.settings import Settings
from app.stores.memory import MemoryTTLStore
from tests.conftest import Login, bearer, serve

ITEMS = "/api/v1/items"
KIB = 1024


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the near cache ------------------------------------------------------------------------


def test_the_near_cache_holds_at_most_its_bytes_dropping_the_oldest() -> None:
    near = NearCache(ttl_seconds=60, max_entries=1000, max_bytes=10 * KIB)
    for number in range(40):
        near.put(f"k{number}", bytes(KIB))
        assert near.size_bytes <= 10 * KIB
    entry = 2 + KIB + ENTRY_OVERHEAD_BYTES  # "k39" and the like: 3 characters
    assert len(near) == (10 * KIB) // (entry + 1)
    assert near.get("k39") is not None  # the newest stay
    assert near.get("k0") is None


def test_a_value_larger_than_the_whole_budget_is_not_kept() -> None:
    near = NearCache(ttl_seconds=60, max_bytes=10 * KIB)
    near.put("small", b"x")
    near.put("huge", bytes(11 * KIB))
    assert near.get("huge") is None
    assert near.get("small") == b"x"  # nothing was pushed out for it
    near.put("small", bytes(11 * KIB))  # a key whose value outgrew the budget is dropped
    assert near.get("small") is None
    assert near.size_bytes == 0


def test_expired_entries_are_freed_at_the_next_use_not_only_when_read() -> None:
    clock = Clock()
    near = NearCache(ttl_seconds=1, max_entries=1000, max_bytes=1024 * KIB, clock=clock)
    for number in range(300):  # 300 distinct URLs, each read once, never again
        near.put(f"catalog:{number}", bytes(KIB))
    assert near.size_bytes > 300 * KIB
    clock.now += 1.5
    near.get("another-key")  # any use (a miss here) frees what expired
    assert (len(near), near.size_bytes) == (0, 0)


def test_a_sweep_stops_at_the_first_live_entry() -> None:
    clock = Clock()
    near = NearCache(ttl_seconds=1, max_bytes=1024 * KIB, clock=clock)
    near.put("old", b"1")
    clock.now += 0.6
    near.put("new", b"2")
    clock.now += 0.6  # "old" expired, "new" has 0.4 s left
    assert near.get("new") == b"2"
    near.put("newest", b"3")
    assert len(near) == 2
    assert near.get("old") is None


def test_the_entry_count_still_bounds_it() -> None:
    near = NearCache(ttl_seconds=60, max_entries=3, max_bytes=1024 * KIB)
    for number in range(5):
        near.put(str(number), b"v")
    assert len(near) == 3
    assert near.get("0") is None
    assert near.get("4") == b"v"


# --- fill budgets --------------------------------------------------------------------------


def _loader(value: bytes, calls: list[bytes]) -> Callable[[], Awaitable[bytes]]:
    async def load() -> bytes:
        calls.append(value)
        return value

    return load


def over_budget(cache: str) -> float:
    return REGISTRY.get_sample_value("cache_fills_over_budget_total", {"cache": cache}) or 0.0


async def test_past_its_budget_a_route_answers_misses_without_storing_them() -> None:
    clock = Clock()
    store = MemoryTTLStore(clock=clock)
    cache = Cache(store, ttl_seconds=60, jitter_ratio=0, fill_budget_bytes=10 * KIB, clock=clock)
    calls: list[bytes] = []
    before = over_budget("catalog")
    for number in range(4):  # 4 KiB each: the third passes 10 KiB
        value = bytes([number]) * 4 * KIB
        assert (
            await cache.get_or_load_json(f"page:{number}", _loader(value, calls), cache="catalog")
            == value
        )
    assert len(calls) == 4
    assert [await store.get(f"page:{n}") is not None for n in range(4)] == [True] * 3 + [False]
    assert over_budget("catalog") == before + 1
    # Stored pages are still hits; the refused one is loaded on every request.
    assert await cache.get_or_load_json("page:0", _loader(b"x", calls), cache="catalog") == bytes(
        4 * KIB
    )
    await cache.get_or_load_json("page:3", _loader(b"y", calls), cache="catalog")
    assert calls[-1:] == [b"y"]
    # Another route has a budget of its own.
    await cache.get_or_load_json("item:1", _loader(b"i", calls), cache="item")
    assert await store.get("item:1") == b"i"
    # The next window starts afresh.
    clock.now += 61
    await cache.get_or_load_json("page:9", _loader(b"z", calls), cache="catalog")
    assert await store.get("page:9") == b"z"


async def test_the_budget_is_counted_across_instances() -> None:
    clock = Clock()
    store = MemoryTTLStore(clock=clock)  # one Redis, two instances
    first, second = (
        Cache(store, ttl_seconds=60, jitter_ratio=0, fill_budget_bytes=10 * KIB, clock=clock)
        for _ in range(2)
    )
    calls: list[bytes] = []
    await first.get_or_load_json("a", _loader(bytes(6 * KIB), calls), cache="catalog")
    await second.get_or_load_json("b", _loader(bytes(6 * KIB), calls), cache="catalog")  # 12 KiB
    await second.get_or_load_json("c", _loader(b"c", calls), cache="catalog")
    await first.get_or_load_json("d", _loader(b"d", calls), cache="catalog")  # learns it here
    await first.get_or_load_json("e", _loader(b"e", calls), cache="catalog")
    assert [await store.get(key) is not None for key in "abcde"] == [True, True, False, True, False]


async def test_a_zero_budget_stores_everything() -> None:
    store = MemoryTTLStore()
    cache = Cache(store, ttl_seconds=60, fill_budget_bytes=0)
    for number in range(50):
        await cache.get_or_load_json(f"k{number}", _loader(bytes(KIB), []), cache="catalog")
    assert all([await store.get(f"k{number}") is not None for number in range(50)])


# --- through the catalog route ---------------------------------------------------------------


@pytest.fixture
def small_budget(settings: Settings) -> Settings:
    return settings.model_copy(update={"cache_fill_budget_bytes": 8 * KIB})


async def test_a_flood_of_distinct_catalog_urls_stores_at_most_the_budget(
    small_budget: Settings,
) -> None:
    async with serve(small_budget) as (app, client):
        account = {"email": "flood@example.com", "password": "correct horse battery staple"}
        assert (await client.post("/api/v1/auth/register", json=account)).status_code == 202
        token = (await client.post("/api/v1/auth/login", json=account)).json()["access_token"]
        for number in range(10):
            item = {"name": f"Lamp {number}", "status": "published", "price_cents": 1000}
            item["description"] = "x" * 1000
            created = await client.post(
                ITEMS, json=item, headers={"Authorization": f"Bearer {token}"}
            )
            assert created.status_code == 201
        store: MemoryTTLStore = app.state.resources.store
        before = len(store)
        pages = []
        for k in range(40):  # the review's flood, scaled down
            page = await client.get(ITEMS, params={"limit": 10, "min_price_cents": k})
            assert page.status_code == 200
            pages.append(page.json())
        assert all(page == pages[0] for page in pages)  # every answer is right
        stored = len(store) - before  # catalog bodies, and the budget's counter
        # Each packed page is about 12 KiB: the 8 KiB budget lets one or two through.
        assert 1 <= stored <= 3, stored


async def test_equivalent_catalog_urls_share_one_cached_page(
    client: httpx.AsyncClient, login: Login, app: FastAPI
) -> None:
    tokens = bearer(await login("normal@example.com"))
    assert (
        await client.post(ITEMS, json={"name": "Lamp", "status": "published"}, headers=tokens)
    ).status_code == 201
    store: MemoryTTLStore = app.state.resources.store
    await client.get(ITEMS, params={"limit": 20, "min_price_cents": 7})
    before = len(store)
    for query in (
        "limit=020&min_price_cents=07",
        "min_price_cents=7&limit=20",
        "min_price_cents=+7&limit=20&utm_source=mail",
    ):
        response = await client.get(f"{ITEMS}?{query}")
        assert response.status_code == 200, (query, response.text)
    assert len(store) == before  # parsed values make the key, never the raw query
