"""Sign-up and login under abuse: bounded hashing, password strength, secrets kept out of
422 bodies, and profiling refused without a strong admin token."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from pydantic import SecretStr, ValidationError

from app.auth import passwords
from app.auth.password_strength import CHECKED_CHARACTERS, checked_part
from app.auth.passwords import HashingBusyError, PasswordHashing
from app.settings import Settings
from tests.conftest import PASSWORD, serve

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"


class Hasher:
    """Stands in for argon2's PasswordHasher, whose methods cannot be patched."""

    def __init__(self, hash_function: Callable[[str], str]) -> None:
        self.hash = hash_function


async def test_at_most_the_configured_hashes_run_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    running, peak = 0, 0

    def slow_hash(password: str) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        time.sleep(0.05)
        running -= 1
        return "hash"

    monkeypatch.setattr(passwords, "_hasher", Hasher(slow_hash))
    hashing = PasswordHashing(concurrency=2, wait_seconds=5)
    assert await asyncio.gather(*(hashing.hash("x") for _ in range(8))) == ["hash"] * 8
    assert peak == 2


async def test_a_burst_past_the_wait_answers_503_with_retry_after(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow_hash(_password: str) -> str:
        time.sleep(0.5)
        return "hash"

    monkeypatch.setattr(passwords, "_hasher", Hasher(slow_hash))
    busy = settings.model_copy(
        update={"password_hashing_concurrency": 1, "password_hashing_wait_seconds": 0.1}
    )
    before = REGISTRY.get_sample_value("password_hashing_busy_total") or 0.0
    async with serve(busy) as (_, client):
        responses = await asyncio.gather(
            *(
                client.post(REGISTER, json={"email": f"u{n}@example.com", "password": PASSWORD})
                for n in range(4)
            )
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202, 503, 503, 503]
    refused = next(r for r in responses if r.status_code == 503)
    assert refused.headers["Retry-After"] == "2"
    assert "retry in 2 seconds" in refused.json()["detail"]
    assert REGISTRY.get_sample_value("password_hashing_busy_total") == before + 3


async def test_hashing_busy_is_raised_not_queued_forever() -> None:
    hashing = PasswordHashing(concurrency=1, wait_seconds=0.05)
    await hashing._slots.acquire()  # every slot taken
    with pytest.raises(HashingBusyError):
        await hashing.hash("x")


async def test_a_taken_email_costs_the_same_work_as_a_new_one(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Timing must not tell which emails have accounts: both paths hash the password."""
    hashed: list[str] = []
    real_hash = passwords._hasher.hash

    def counting_hash(password: str) -> str:
        hashed.append(password)
        return real_hash(password)

    monkeypatch.setattr(passwords, "_hasher", Hasher(counting_hash))
    body = {"email": "ada@example.com", "password": PASSWORD}
    first = await client.post(REGISTER, json=body)
    again = await client.post(REGISTER, json=body)
    assert (first.status_code, first.json()) == (again.status_code, again.json())
    assert len(hashed) == 2


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("12345678", "top-10 common password"),
        ("        ", "Repeats"),
        ("password1", "common password"),
        ("qwertyuiop", "common password"),
        ("zxcvbnm,./", "keys"),
        ("abcdefghij", "Sequences"),
        ("ada.lovelace", "too weak"),
    ],
)
async def test_weak_passwords_are_refused_saying_why_and_how_to_fix(
    client: httpx.AsyncClient, password: str, reason: str
) -> None:
    response = await client.post(
        REGISTER, json={"email": "ada.lovelace@example.com", "password": password}
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "password"]
    assert reason in error["msg"]
    assert "Password is too weak" in error["msg"]
    assert "input" not in error


async def test_strong_passwords_are_accepted(client: httpx.AsyncClient) -> None:
    for n, password in enumerate(
        ["correct horse battery staple", "x7#Kq9!mZ2vL", "é" * 3 + "Tr0ub4dor&3"]
    ):
        response = await client.post(
            REGISTER, json={"email": f"u{n}@example.com", "password": password}
        )
        assert response.status_code == 202, (password, response.text)


def test_the_strength_check_reads_a_bounded_part() -> None:
    """zxcvbn's cost explodes with length and distinct l33t symbols: both are capped."""
    assert checked_part("a" * 128) == "a" * CHECKED_CHARACTERS
    symbols = "4@8({[<369!|170$5+%2"
    assert checked_part(symbols + "tail") == symbols[:10]
    assert checked_part("4444abcd") == "4444abcd"  # one distinct symbol, however often


async def test_a_crafted_password_is_checked_quickly(client: httpx.AsyncClient) -> None:
    crafted = ("4@8({[<3691!|70$5+%2" * 7)[:128]
    started = time.perf_counter()
    response = await client.post(REGISTER, json={"email": "c@example.com", "password": crafted})
    assert response.status_code in (202, 422)
    # argon2 included; zxcvbn alone on all 128 characters takes seconds.
    assert time.perf_counter() - started < 3


@pytest.mark.parametrize(
    ("url", "body"),
    [
        pytest.param(LOGIN, {"email": "ada@example.com", "password": "x" * 200}, id="login-long"),
        pytest.param(LOGIN, {"email": "", "password": "secret-password-1"}, id="login-bad-email"),
        pytest.param(REGISTER, {"email": "nope", "password": "secret-password-1"}, id="register"),
        pytest.param(REGISTER, {"email": "a@example.com", "password": "secret"}, id="too-short"),
        pytest.param(REGISTER, ["secret-password-1"], id="not-an-object"),
        pytest.param(
            "/api/v1/auth/refresh", {"refresh_token": "secret-password-1" * 20}, id="refresh"
        ),
    ],
)
async def test_422s_of_auth_routes_never_echo_what_was_sent(
    client: httpx.AsyncClient, url: str, body: Any
) -> None:
    response = await client.post(url, json=body)
    assert response.status_code == 422
    assert "secret" not in response.text
    assert "xxxxxxxx" not in response.text
    assert all("input" not in error for error in response.json()["detail"])


@pytest.mark.parametrize("token", [None, "", "short-token"])
def test_profiling_refuses_to_start_without_a_strong_admin_token(token: str | None) -> None:
    values: dict[str, Any] = {"profiling_enabled": True}
    if token is not None:
        values["admin_token"] = token
    with pytest.raises(ValidationError, match="PROFILING_ENABLED=true needs an ADMIN_TOKEN"):
        Settings(_env_file=None, **values)


def test_profiling_starts_with_a_long_admin_token() -> None:
    token = "a" * 32
    settings = Settings(_env_file=None, profiling_enabled=True, admin_token=SecretStr(token))
    assert settings.admin_token is not None
    off = Settings(_env_file=None, admin_token=SecretStr(""))  # profiling off: no check
    assert off.profiling_enabled is False


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("password_hashing_concurrency", 0),
        ("password_hashing_wait_seconds", 0),
        ("password_min_strength", 5),
        ("refresh_token_reuse_grace_seconds", -1),
        ("refresh_token_reuse_grace_seconds", 61),
        ("access_token_revocation_cache_seconds", -1),
        ("jwt_leeway_seconds", 301),
    ],
)
def test_bad_account_security_settings_are_refused(field: str, value: object) -> None:
    values: dict[str, Any] = {field: value}
    with pytest.raises(ValidationError, match=field):
        Settings(_env_file=None, **values)


def test_issuer_and_audience_default_to_the_service_slug(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.about import SLUG  # noqa: PLC0415

    settings = Settings(_env_file=None)
    assert (settings.token_issuer, settings.token_audience) == (SLUG, SLUG)
    monkeypatch.setenv("JWT_ISSUER", "https://auth.example.com")
    monkeypatch.setenv("JWT_AUDIENCE", "catalog-api")
    configured = Settings(_env_file=None)
    assert (configured.token_issuer, configured.token_audience) == (
        "https://auth.example.com",
        "catalog-api",
    )
