"""Login rate limit and session endpoints on a real Redis, including one that goes away.

The rate-limit tests use TEST_REDIS_URL with keys unique to each run (nothing is
flushed). The outage tests start their own redis-server on a spare port (the
``own_redis`` fixture, tests/integration/own_redis.py), stop it and start it again, and
only ever kill that server; they run when TEST_REDIS_URL is set, like every test that
needs Redis.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from prometheus_client import REGISTRY

from app.auth.rate_limit import KEY_PREFIX, RateLimiter, login_keys
from app.settings import Settings
from app.stores.redis import RedisTTLStore
from tests.conftest import PASSWORD, serve
from tests.integration.conftest import require_server
from tests.integration.own_redis import OwnRedis

LOGIN = "/api/v1/auth/login"
REGISTER = "/api/v1/auth/register"


@asynccontextmanager
async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings) as (_, client):
        yield client


# --- the limiter on TEST_REDIS_URL ----------------------------------------------------------


async def test_the_window_is_shared_by_every_instance_and_expires_in_redis() -> None:
    url = require_server("TEST_REDIS_URL")
    stores = [RedisTTLStore.from_url(url, socket_timeout_seconds=2) for _ in range(2)]
    try:
        # Two instances of the service, one Redis: attempts add up across them.
        limiters = [RateLimiter(s, limit="login", window_seconds=30) for s in stores]
        email = f"{uuid.uuid4().hex}@example.com"
        ip = f"203.0.113.{uuid.uuid4().int % 250}"
        verdicts = [await limiters[n % 2].attempt(login_keys(ip, email, 4)) for n in range(5)]
        assert [v.allowed for v in verdicts] == [True, True, True, True, False]
        assert 1 <= verdicts[-1].retry_after_seconds <= 30
        # The counters carry the window as their TTL: Redis forgets them on its own.
        keys = [key async for key in stores[0].client.scan_iter(f"{KEY_PREFIX}login:ip:{ip}")]
        assert keys
        ttl_ms = await stores[0].client.pttl(keys[0])
        assert 0 < ttl_ms <= 30_000
        # 50 concurrent attempts are counted exactly: INCR is atomic.
        burst_email = f"{uuid.uuid4().hex}@example.com"
        results = await asyncio.gather(
            *(
                limiters[n % 2].attempt(login_keys(f"198.51.100.{n}", burst_email, 4))
                for n in range(50)
            )
        )
        assert sum(v.allowed for v in results) == 4
    finally:
        for store in stores:
            await store.close()


async def test_login_answers_429_from_redis_counters(settings: Settings) -> None:
    url = require_server("TEST_REDIS_URL")
    limited = settings.model_copy(
        update={"redis_url": url, "login_attempts_per_window": 2, "login_window_seconds": 30}
    )
    email = f"{uuid.uuid4().hex}@example.com"
    async with _client(limited) as client:
        assert (await client.post(REGISTER, json={"email": email, "password": PASSWORD})).is_success
        wrong = {"email": email, "password": "not the password"}
        assert (await client.post(LOGIN, json=wrong)).status_code == 401
        assert (await client.post(LOGIN, json=wrong)).status_code == 401
        refused = await client.post(LOGIN, json={"email": email, "password": PASSWORD})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 30


# --- a Redis that stops and starts -----------------------------------------------------------


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_stopped_redis_gives_503_on_login_and_cached_reads_keep_working(
    settings: Settings, own_redis: OwnRedis
) -> None:
    app_settings = settings.model_copy(
        update={"redis_url": own_redis.url, "cache_circuit_open_seconds": 0.2}
    )
    body = {"email": "ada@example.com", "password": PASSWORD}
    async with _client(app_settings) as client:
        assert (await client.post(REGISTER, json=body)).status_code == 202
        tokens = (await client.post(LOGIN, json=body)).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        item = await client.post(
            "/api/v1/items", json={"name": "Desk", "status": "published"}, headers=headers
        )
        detail = f"/api/v1/items/{item.json()['id']}"
        assert (await client.get(detail)).status_code == 200  # now cached in Redis

        own_redis.stop()
        errors = _sample("session_store_errors_total", {"operation": "login"})
        started = time.monotonic()
        refused = await client.post(LOGIN, json=body)
        elapsed = time.monotonic() - started
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"] == "5"
        assert "temporarily unavailable" in refused.json()["detail"]
        assert elapsed < 10, "a dead Redis must cost bounded time, not hang the request"
        assert _sample("session_store_errors_total", {"operation": "login"}) == errors + 1
        refresh = {"refresh_token": tokens["refresh_token"]}
        assert (await client.post("/api/v1/auth/refresh", json=refresh)).status_code == 503
        # Reads fall back to the database; access tokens need no store.
        assert (await client.get(detail)).status_code == 200
        assert (await client.get("/api/v1/items")).status_code == 200
        assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200

        own_redis.start()
        again = await client.post(LOGIN, json=body)
        assert again.status_code == 200, again.text
        # The old session was in the Redis that died: it is gone, the new one works.
        new_refresh = {"refresh_token": again.json()["refresh_token"]}
        assert (await client.post("/api/v1/auth/refresh", json=new_refresh)).status_code == 200


async def test_a_one_second_redis_restart_is_bridged_without_errors(
    settings: Settings, own_redis: OwnRedis
) -> None:
    async with _client(settings.model_copy(update={"redis_url": own_redis.url})) as client:
        body = {"email": "ada@example.com", "password": PASSWORD}
        assert (await client.post(REGISTER, json=body)).status_code == 202
        assert (await client.post(LOGIN, json=body)).status_code == 200

        errors = _sample("session_store_errors_total", {"operation": "login"})
        own_redis.stop()
        restart = asyncio.get_running_loop().run_in_executor(None, _restart_after, own_redis, 1.0)
        # Sent while Redis is down: the client's retries carry it over the restart.
        responses = [await client.post(LOGIN, json=body) for _ in range(3)]
        await restart
    assert [r.status_code for r in responses] == [200, 200, 200], [r.text for r in responses]
    assert _sample("session_store_errors_total", {"operation": "login"}) == errors


def _restart_after(server: OwnRedis, seconds: float) -> None:
    time.sleep(seconds)
    server.start()
