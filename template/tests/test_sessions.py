"""Practice 8: stateless access tokens, rotating refresh tokens in a TTL store."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.auth.refresh_tokens import FAMILY_PREFIX, RefreshTokens, token_key
from app.stores.memory import MemoryTTLStore
from tests.conftest import Login, bearer

REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
STORE_METHODS = ("set", "get", "take", "delete", "add", "swap", "expire", "ping")


async def test_protected_requests_never_touch_the_session_store(
    app: FastAPI, client: httpx.AsyncClient, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = await login("ada@example.com")
    store = app.state.resources.store
    calls: list[str] = []
    for name in STORE_METHODS:
        monkeypatch.setattr(store, name, _counting(calls, name, getattr(store, name)))
    for url in ("/api/v1/users/me", "/api/v1/me/items"):
        response = await client.get(url, headers=bearer(tokens))
        assert response.status_code == 200
    assert calls == []
    # The counter works: a refresh does use the store.
    assert (await client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]})).is_success
    assert calls


def _counting(
    calls: list[str], name: str, method: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return await method(*args, **kwargs)

    return counted


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(REFRESH, json={"refresh_token": token})


async def test_reusing_a_rotated_token_revokes_every_token_of_its_family(
    client: httpx.AsyncClient, login: Login
) -> None:
    first = (await login("ada@example.com"))["refresh_token"]
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


async def test_logout_revokes_the_session(client: httpx.AsyncClient, login: Login) -> None:
    first = (await login("ada@example.com"))["refresh_token"]
    second = (await _refresh(client, first)).json()["refresh_token"]
    assert (await client.post(LOGOUT, json={"refresh_token": second})).status_code == 204
    assert (await _refresh(client, second)).status_code == 401


async def test_tokens_are_stored_as_sha256_hashes_with_the_refresh_ttl() -> None:
    now = 0.0
    store = MemoryTTLStore(clock=lambda: now)
    tokens = RefreshTokens(store, ttl_seconds=3600)
    token = await tokens.issue(user_id=7)
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


async def test_concurrent_refreshes_with_one_token_issue_one_new_token() -> None:
    tokens = RefreshTokens(MemoryTTLStore(), ttl_seconds=3600)
    token = await tokens.issue(user_id=7)
    results = [await tokens.rotate(token), await tokens.rotate(token)]
    assert results[0] is not None
    assert results[1] is None
    assert await tokens.rotate(results[0][1]) is None  # the reuse revoked the family
