"""Practice 8: access tokens, rotating refresh tokens in a TTL store, retries and revocation."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError

from app.auth.refresh_tokens import FAMILY_PREFIX, RefreshTokens, token_key
from app.auth.revocations import KEY_PREFIX as REVOKED_PREFIX
from app.auth.revocations import RevokedFamilies
from app.settings import Settings
from app.stores.memory import MemoryTTLStore
from tests.conftest import PASSWORD, Login, bearer, serve

REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
STORE_METHODS = ("set", "get", "take", "delete", "add", "swap", "expire", "ping")


async def test_protected_requests_read_the_store_once_per_session_per_interval(
    app: FastAPI, client: httpx.AsyncClient, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = await login("ada@example.com")
    store = app.state.resources.store
    calls: list[str] = []
    for name in STORE_METHODS:
        monkeypatch.setattr(store, name, _counting(calls, name, getattr(store, name)))
    for _ in range(3):
        for url in ("/api/v1/users/me", "/api/v1/me/items"):
            response = await client.get(url, headers=bearer(tokens))
            assert response.status_code == 200
    # One look at the session's revocation marker, then the instance's memory of it.
    assert calls == ["get"]
    # The counter works: a refresh does use the store.
    assert (await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})).is_success
    assert len(calls) > 1


def _counting(
    calls: list[str], name: str, method: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return await method(*args, **kwargs)

    return counted


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(REFRESH, json={"refresh_token": token})


@pytest.fixture
async def no_grace_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings.model_copy(update={"refresh_token_reuse_grace_seconds": 0})) as (
        _,
        client,
    ):
        yield client


async def _register_and_login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    body = {"email": email, "password": PASSWORD}
    assert (await client.post("/api/v1/auth/register", json=body)).status_code == 202
    tokens: dict[str, str] = (await client.post("/api/v1/auth/login", json=body)).json()
    return tokens


async def test_reusing_a_rotated_token_revokes_every_token_of_its_family(
    no_grace_client: httpx.AsyncClient,
) -> None:
    client = no_grace_client
    tokens = await _register_and_login(client, "ada@example.com")
    first = tokens["refresh_token"]
    second = (await _refresh(client, first)).json()["refresh_token"]
    third = (await _refresh(client, second)).json()["refresh_token"]
    other_login = (
        await client.post(
            "/api/v1/auth/login",
            json={"email": "ada@example.com", "password": "correct horse battery staple"},
        )
    ).json()["refresh_token"]

    assert (await _refresh(client, first)).status_code == 401  # reuse: theft suspected
    assert (await _refresh(client, third)).status_code == 401  # its descendants are revoked
    assert (await _refresh(client, other_login)).status_code == 200  # other sessions are not
    # ...and so are the family's access tokens, at once on this instance.
    me = await client.get("/api/v1/users/me", headers=bearer(tokens))
    assert me.status_code == 401


async def test_logout_revokes_the_session(client: httpx.AsyncClient, login: Login) -> None:
    first = (await login("ada@example.com"))["refresh_token"]
    second = (await _refresh(client, first)).json()["refresh_token"]
    assert (await client.post(LOGOUT, json={"refresh_token": second})).status_code == 204
    assert (await _refresh(client, second)).status_code == 401


async def test_tokens_are_stored_as_sha256_hashes_with_the_refresh_ttl() -> None:
    now = 0.0
    store = MemoryTTLStore(clock=lambda: now)
    tokens = RefreshTokens(store, ttl_seconds=3600)
    _, token = await tokens.start(user_id=7)
    key = "refresh:" + hashlib.sha256(token.encode()).hexdigest()
    assert token_key(token) == key
    assert all(token not in stored for stored in store._entries)
    assert all(token.encode() not in value for _, value in store._entries.values())
    family = next(stored for stored in store._entries if stored.startswith(FAMILY_PREFIX))
    assert store.ttl_of(key) == store.ttl_of(family) == 3600

    now = 3599.0
    rotated = await tokens.rotate(token)
    assert rotated is not None
    assert store.ttl_of(family) == 3600  # refreshing keeps an active session alive
    now = 3599.0 + 3601.0
    assert await tokens.rotate(rotated[1]) is None  # idle past the TTL: gone
    for stored in list(store._entries):  # every key of the session expired by its TTL
        assert await store.get(stored) is None
    assert len(store) == 0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_refreshes_with_one_token_get_the_same_new_token(
    client: httpx.AsyncClient, login: Login
) -> None:
    """A client retrying after a timeout, or several tabs: 10 at once all succeed."""
    tokens = await login("ada@example.com")
    responses = await asyncio.gather(
        *(_refresh(client, tokens["refresh_token"]) for _ in range(10))
    )
    assert [r.status_code for r in responses] == [200] * 10
    assert len({r.json()["refresh_token"] for r in responses}) == 1
    winner = responses[0].json()
    for response in responses:  # every access token issued works
        assert (await client.get("/api/v1/users/me", headers=bearer(response.json()))).is_success
    # The winner's new refresh token keeps working, and rotates on.
    following = await _refresh(client, winner["refresh_token"])
    assert following.status_code == 200
    assert (await _refresh(client, following.json()["refresh_token"])).status_code == 200


async def test_reuse_within_the_grace_window_returns_the_successor_and_after_it_revokes() -> None:
    clock = Clock()
    store = MemoryTTLStore()
    tokens = RefreshTokens(store, ttl_seconds=3600, reuse_grace_seconds=10, clock=clock)
    _, token = await tokens.start(user_id=7)
    first = await tokens.rotate(token)
    assert first is not None
    clock.now += 9.5
    retried = await tokens.rotate(token)
    assert retried is not None
    assert retried[1] == first[1]  # the same successor, not a second one
    # The store never holds the successor in the clear (it is sealed with the old token).
    assert all(first[1].encode() not in value for _, value in store._entries.values())
    clock.now += 1.0  # 10.5 s after the rotation: a reuse, theft suspected
    assert await tokens.rotate(token) is None
    assert await tokens.rotate(first[1]) is None  # the whole family is revoked


async def test_a_grace_retry_after_logout_is_refused() -> None:
    tokens = RefreshTokens(MemoryTTLStore(), ttl_seconds=3600, reuse_grace_seconds=10)
    _, token = await tokens.start(user_id=7)
    rotated = await tokens.rotate(token)
    assert rotated is not None
    await tokens.revoke(rotated[1])
    assert await tokens.rotate(token) is None


async def test_a_revocation_reaches_every_instance_within_the_cache_interval() -> None:
    clock = Clock()
    store = MemoryTTLStore()  # stands for the Redis every instance shares
    here = RevokedFamilies(store, marker_ttl_seconds=930, cache_seconds=5, clock=clock)
    there = RevokedFamilies(store, marker_ttl_seconds=930, cache_seconds=5, clock=clock)
    assert not await there.is_revoked("family-1")  # remembered for 5 s
    await RefreshTokens(store, ttl_seconds=3600, revoked_families=here).revoke_family("family-1")
    assert await here.is_revoked("family-1")  # the revoking instance knows at once
    clock.now += 4.9
    assert not await there.is_revoked("family-1")  # still its memory
    clock.now += 0.2
    assert await there.is_revoked("family-1")  # within the interval: revoked everywhere
    assert not await there.is_revoked("family-2")
    assert 929 < (store.ttl_of(REVOKED_PREFIX + "family-1") or 0) <= 930


class DeadStore(MemoryTTLStore):
    calls = 0

    async def get(self, key: str) -> bytes | None:
        self.calls += 1
        raise RedisConnectionError("Connection refused")


async def test_a_dead_store_lets_access_tokens_through_and_is_not_asked_per_request() -> None:
    store = DeadStore()
    revoked = RevokedFamilies(store, marker_ttl_seconds=930, cache_seconds=5)
    before = REGISTRY.get_sample_value("revocation_check_store_errors_total") or 0.0
    assert [await revoked.is_revoked(f"family-{n}") for n in range(20)] == [False] * 20
    assert store.calls == 1
    assert REGISTRY.get_sample_value("revocation_check_store_errors_total") == before + 1


async def test_logout_rejects_its_access_token(client: httpx.AsyncClient, login: Login) -> None:
    tokens = await login("ada@example.com")
    other = (
        await client.post(
            "/api/v1/auth/login", json={"email": "ada@example.com", "password": PASSWORD}
        )
    ).json()
    assert (await client.get("/api/v1/users/me", headers=bearer(tokens))).status_code == 200
    assert (await client.post(LOGOUT, json={"refresh_token": tokens["refresh_token"]})).is_success
    me = await client.get("/api/v1/users/me", headers=bearer(tokens))
    assert me.status_code == 401
    assert me.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert "logged out" in me.json()["detail"]
    # Another session of the same user is untouched.
    assert (await client.get("/api/v1/users/me", headers=bearer(other))).status_code == 200
