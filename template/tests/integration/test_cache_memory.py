"""Cached bodies cannot evict security state, on a real Redis with a memory limit.

Redis evicts across every logical database (one maxmemory, one policy for the server),
and ElastiCache's volatile-lru may evict any key with a TTL: rate-limit counters,
revocation markers and refresh tokens have one, like cached bodies. So the protection is
not where the bodies live but how much of them there can be: each route's fill budget
(app/cache.py) bounds what clients' URLs can make the cache store. This test starts its
own redis-server with a 24 MiB limit and volatile-lru (the production policy), writes
security state through the service's own classes, then floods the cache with 80 MiB of
distinct bodies: with the budget nothing is evicted; without it (the control, on the
same server) Redis evicts, and the security state goes first.

The server is this test's own (tests/integration/own_redis.py: a spare port, nothing on
disk, stopped and waited for until its port refuses); it runs when TEST_REDIS_URL is set,
like every test that needs Redis.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.auth.rate_limit import RateLimiter, login_keys
from app.auth.refresh_tokens import RefreshTokens
from app.auth.revocations import RevokedFamilies
from app.cache import Cache
from app.stores.redis import RedisTTLStore
from tests.integration.conftest import require_server
from tests.integration.own_redis import OwnRedis

MAX_MEMORY = "24mb"
BODY_BYTES = 256 * 1024  # incompressible: Redis stores each whole
URLS = 320  # the review's flood: 80 MiB of distinct catalog pages
BUDGET_BYTES = 4 * 1024 * 1024


@pytest.fixture
def limited_redis_port(tmp_path: Path) -> Iterator[int]:
    """A redis-server of this test's own, limited and evicting as ElastiCache is set up."""
    require_server("TEST_REDIS_URL")
    server = OwnRedis(tmp_path, "--maxmemory", MAX_MEMORY, "--maxmemory-policy", "volatile-lru")
    server.start()
    try:
        yield server.port
    finally:
        server.stop()


@pytest.fixture
async def limited_redis(limited_redis_port: int) -> AsyncIterator[RedisTTLStore]:
    url = f"redis://127.0.0.1:{limited_redis_port}/0"
    store = RedisTTLStore.from_url(url, socket_timeout_seconds=2)
    try:
        yield store
    finally:
        await store.close()


async def _security_state(store: RedisTTLStore) -> set[Any]:
    """Counters, a revocation marker and refresh tokens, as the service writes them."""
    limiter = RateLimiter(store, limit="login", window_seconds=600)
    for number in range(5):
        await limiter.attempt(login_keys(f"198.51.100.{number}", f"u{number}@example.com", 10))
    revoked = RevokedFamilies(store, marker_ttl_seconds=930)
    refresh = RefreshTokens(store, ttl_seconds=86400, revoked_families=revoked)
    for user_id in range(1, 4):
        await refresh.start(user_id)
    await revoked.revoke("a-logged-out-session")
    return {key async for key in store.client.scan_iter("*")}  # the server holds only these


async def _flood(store: RedisTTLStore, fill_budget_bytes: int, run: str) -> None:
    cache = Cache(store, ttl_seconds=600, jitter_ratio=0, fill_budget_bytes=fill_budget_bytes)
    for number in range(URLS):
        body = os.urandom(BODY_BYTES)

        async def load(body: bytes = body) -> bytes:
            return body

        key = f"items:list:{run}:{number}"
        page = await cache.get_or_load_json(key, load, cache="catalog")
        assert page == body  # every request is answered, stored or not


async def _survivors(store: RedisTTLStore, keys: set[Any]) -> set[Any]:
    return {key for key in keys if await store.client.exists(key)}


async def test_a_flood_of_cached_bodies_evicts_no_security_state(
    limited_redis: RedisTTLStore,
) -> None:
    store = limited_redis
    security = await _security_state(store)
    assert len(security) >= 12  # 5 IPs, 5 emails and their networks, tokens, the marker

    await _flood(store, fill_budget_bytes=BUDGET_BYTES, run="budgeted")
    info = await store.client.info("memory")
    stats = await store.client.info("stats")
    assert stats["evicted_keys"] == 0
    assert info["used_memory"] < info["maxmemory"]
    assert await _survivors(store, security) == security

    # The control, on the same server: without a budget the flood fills the 24 MiB and
    # Redis evicts, idlest keys first, which is the security state written before it.
    await _flood(store, fill_budget_bytes=0, run="unbounded")
    stats = await store.client.info("stats")
    assert stats["evicted_keys"] > 0
    assert await _survivors(store, security) != security
