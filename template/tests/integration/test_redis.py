"""Practices 2 and 8 on a real Redis: shared stampede lock, invalidation, sessions, a dead Redis.

TEST_REDIS_URL must name database 15: these tests FLUSHDB it. The fault test starts
its own redis-server on a spare port (the ``own_redis`` fixture) and kills only that one;
it never touches TEST_REDIS_URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client import REGISTRY

from app.api.items import item_cache_key
from app.auth.refresh_tokens import RefreshTokens, family_key, token_key
from app.auth.revocations import KEY_PREFIX as REVOKED_PREFIX
from app.auth.revocations import RevokedFamilies
from app.cache import Cache
from app.db.read_your_writes import READ_AFTER_LSN_HEADER
from app.http.precompressed import BodyEncodings
from app.settings import Settings
from app.stores.redis import RedisTTLStore
from tests.conftest import PASSWORD, bearer, serve
from tests.integration.conftest import require_server
from tests.integration.own_redis import OwnRedis

ITEMS = "/api/v1/items"


@pytest.fixture
def redis_url() -> str:
    url = require_server("TEST_REDIS_URL")
    if urlsplit(url).path.strip("/") != "15":
        pytest.fail(f"TEST_REDIS_URL must name database 15, which these tests flush: {url}")
    return url


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisTTLStore]:
    store = RedisTTLStore.from_url(redis_url, socket_timeout_seconds=2)
    await store.client.flushdb()
    yield store
    await store.client.flushdb()
    await store.close()


@pytest.fixture
async def client(settings: Settings, store: RedisTTLStore, redis_url: str) -> AsyncIterator[Any]:
    async with serve(settings.model_copy(update={"redis_url": redis_url})) as (_, client):
        yield client


async def _login(client: httpx.AsyncClient) -> dict[str, str]:
    body = {"email": "ada@example.com", "password": PASSWORD}
    assert (await client.post("/api/v1/auth/register", json=body)).status_code == 202
    tokens: dict[str, str] = (await client.post("/api/v1/auth/login", json=body)).json()
    return tokens


async def test_fifty_misses_across_two_instances_run_the_loader_once(
    store: RedisTTLStore, redis_url: str
) -> None:
    other = RedisTTLStore.from_url(redis_url, socket_timeout_seconds=2)
    instances = [Cache(store, lock_timeout_ms=5000), Cache(other, lock_timeout_ms=5000)]
    calls = 0

    async def loader() -> dict[str, str]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.2)
        return {"name": "Desk"}

    try:
        results = await asyncio.gather(
            *(instances[n % 2].get_or_load("items:item:1", loader) for n in range(50))
        )
    finally:
        await other.close()
    assert calls == 1
    assert results == [{"name": "Desk"}] * 50


async def test_items_are_cached_in_redis_with_a_ttl_and_writes_invalidate(
    client: httpx.AsyncClient, store: RedisTTLStore
) -> None:
    tokens = await _login(client)
    body = {"name": "Desk", "status": "published"}
    item = (await client.post(ITEMS, json=body, headers=bearer(tokens))).json()
    key = item_cache_key(item["id"])
    assert (await client.get(f"{ITEMS}/{item['id']}")).json() == item
    assert (await client.get(ITEMS)).json()["items"] == [item]
    assert await store.client.ttl(key) > 0
    generation = await store.get("items:list:generation")

    await client.patch(f"{ITEMS}/{item['id']}", json={"name": "Table"}, headers=bearer(tokens))
    assert await store.get(key) is None
    assert await store.get("items:list:generation") != generation
    assert (await client.get(f"{ITEMS}/{item['id']}")).json()["name"] == "Table"
    assert (await client.get(ITEMS)).json()["items"][0]["name"] == "Table"


async def test_refresh_tokens_rotate_revoke_and_expire_in_redis(store: RedisTTLStore) -> None:
    revoked = RevokedFamilies(store, marker_ttl_seconds=930, cache_seconds=0)
    tokens = RefreshTokens(store, ttl_seconds=600, reuse_grace_seconds=0, revoked_families=revoked)
    _, first = await tokens.start(user_id=7)
    keys = [key.decode() if isinstance(key, bytes) else key for key in await store.client.keys("*")]
    assert token_key(first) in keys
    assert all(first not in key for key in keys)
    for key in keys:
        assert 0 < await store.client.ttl(key) <= 600  # idle sessions disappear by TTL

    rotated = await tokens.rotate(first)
    assert rotated is not None
    session, second = rotated
    assert await tokens.rotate(first) is None  # reuse ...
    assert await store.get(family_key(session.family_id)) is None  # ... revokes the family
    assert await tokens.rotate(second) is None
    assert await revoked.is_revoked(session.family_id)  # and its access tokens
    assert 0 < await store.client.ttl(REVOKED_PREFIX + session.family_id) <= 930

    _, third = await tokens.start(user_id=7)
    await tokens.revoke(third)  # logout
    assert await tokens.rotate(third) is None


async def test_concurrent_refreshes_in_redis_share_one_successor(store: RedisTTLStore) -> None:
    """Two instances, one Redis: retries within the grace window get the same token."""
    instances = [RefreshTokens(store, ttl_seconds=600, reuse_grace_seconds=10) for _ in range(2)]
    _, token = await instances[0].start(user_id=7)
    results = await asyncio.gather(*(instances[n % 2].rotate(token) for n in range(10)))
    assert all(result is not None for result in results)
    assert len({result[1] for result in results if result is not None}) == 1


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_requests_succeed_while_redis_is_down_and_caching_resumes(
    settings: Settings, own_redis: OwnRedis
) -> None:
    url = own_redis.url
    probe = RedisTTLStore.from_url(url, socket_timeout_seconds=1)
    short_circuit = settings.model_copy(
        update={"redis_url": url, "cache_circuit_open_seconds": 0.2}
    )
    async with serve(short_circuit) as (_, client):
        tokens = await _login(client)
        body = {"name": "Desk", "status": "published"}
        item = (await client.post(ITEMS, json=body, headers=bearer(tokens))).json()
        detail = f"{ITEMS}/{item['id']}"
        assert (await client.get(detail)).json() == item
        assert await probe.get(item_cache_key(item["id"])) is not None

        own_redis.stop()  # Redis dies mid-test
        errors = _sample("cache_errors_total", {"operation": "get"})
        for _ in range(5):
            response = await client.get(detail)
            assert response.status_code == 200
            assert response.json() == item
            assert (await client.get(ITEMS)).json()["items"] == [item]
        assert _sample("cache_errors_total", {"operation": "get"}) > errors
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["cache"]["status"] == "degraded"
        # Writes work too; the next read comes from the database.
        patched = await client.patch(detail, json={"name": "Table"}, headers=bearer(tokens))
        assert patched.status_code == 200
        assert (await client.get(detail)).json()["name"] == "Table"

        own_redis.start()
        await probe.close()
        probe = RedisTTLStore.from_url(url, socket_timeout_seconds=1)
        await asyncio.sleep(0.3)  # the circuit closes again after cache_circuit_open_seconds
        hits = _sample("cache_requests_total", {"cache": "item", "result": "hit"})
        for _ in range(3):
            assert (await client.get(detail)).json()["name"] == "Table"
        assert await probe.get(item_cache_key(item["id"])) is not None
        assert _sample("cache_requests_total", {"cache": "item", "result": "hit"}) > hits
        ready = await client.get("/readyz")
        assert ready.json()["checks"]["cache"]["status"] == "ok"
    await probe.close()


ITEM = {"name": "Desk", "status": "published"}


async def _cached_name(client: httpx.AsyncClient, url: str, **headers: str) -> str:
    name: str = (await client.get(url, headers=headers)).json()["name"]
    return name


async def _until_near_cached(client: httpx.AsyncClient, url: str, cache: Cache) -> None:
    """Read ``url`` until the instance holds it in memory (its listener subscribes first)."""
    async with asyncio.timeout(5):
        while cache.near_cache_size() == 0:
            assert await _cached_name(client, url) == "Desk"
            await asyncio.sleep(0.01)


async def test_a_write_on_one_instance_reaches_the_near_cache_of_every_other(
    settings: Settings, store: RedisTTLStore, redis_url: str
) -> None:
    # A near-cache TTL far beyond the test: only the invalidation can make B see the write.
    shared = settings.model_copy(update={"redis_url": redis_url, "near_cache_ttl_seconds": 60})
    async with serve(shared) as (_, a), serve(shared) as (b_app, b):
        b_cache: Cache = b_app.state.resources.cache
        tokens = await _login(a)
        created = (await a.post(ITEMS, json=ITEM, headers=bearer(tokens))).json()
        url = f"{ITEMS}/{created['id']}"
        await _until_near_cached(b, url, b_cache)
        only_in_redis = BodyEncodings(minimum_size_bytes=500).pack(b'{"name": "only in Redis"}')
        await store.client.set(item_cache_key(created["id"]), only_in_redis)
        assert await _cached_name(b, url) == "Desk", "B answers from its own memory"

        patched = await a.patch(url, json={"name": "Table"}, headers=bearer(tokens))
        assert patched.status_code == 200

        for _ in range(200):  # 2 s at most: the message takes milliseconds
            if await _cached_name(b, url) == "Table":
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the write never reached the other instance's near cache")
        assert b_cache.near_cache_size() >= 1  # B keeps caching the new value


async def test_a_read_your_writes_request_never_gets_a_near_cache_copy(
    settings: Settings, store: RedisTTLStore, redis_url: str
) -> None:
    shared = settings.model_copy(update={"redis_url": redis_url, "near_cache_ttl_seconds": 60})
    async with serve(shared) as (_, a), serve(shared) as (b_app, b):
        tokens = await _login(a)
        created = (await a.post(ITEMS, json=ITEM, headers=bearer(tokens))).json()
        url = f"{ITEMS}/{created['id']}"
        await _until_near_cached(b, url, b_app.state.resources.cache)
        # B's invalidation is still on its way: B stops listening before A writes.
        await b_app.state.resources.cache.stop()
        await a.patch(url, json={"name": "Table"}, headers=bearer(tokens))

        assert await _cached_name(b, url) == "Desk"  # the window the TTL bounds
        # A token the service issued (on SQLite writes hand out none); a forged one would not do.
        token = b_app.state.resources.lsn_tokens.issue(1)
        assert (
            await _cached_name(b, url, **{READ_AFTER_LSN_HEADER: "99999999999999999999"}) == "Desk"
        )
        assert await _cached_name(b, url, **{READ_AFTER_LSN_HEADER: token}) == "Table"
