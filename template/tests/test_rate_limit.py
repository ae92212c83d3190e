"""Login and registration rate limits on the in-process store: per IP, per email, per
network, Retry-After, fail-open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from ipaddress import ip_network
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from starlette.requests import Request

from app.auth.client_ip import client_ip
from app.auth.rate_limit import RateLimiter, Verdict, login_keys, registration_keys
from app.settings import Settings
from app.stores.memory import MemoryTTLStore
from tests.conftest import PASSWORD, serve

LOGIN = "/api/v1/auth/login"
REGISTER = "/api/v1/auth/register"


class LoginLimiter:
    """The login limiter as the endpoint builds it: ``attempts`` per IP and per email."""

    def __init__(self, store: MemoryTTLStore, *, attempts: int, window_seconds: int) -> None:
        self._limiter = RateLimiter(store, limit="login", window_seconds=window_seconds)
        self._attempts = attempts

    async def attempt(self, client_ip: str, email: str) -> Verdict:
        return await self._limiter.attempt(login_keys(client_ip, email, self._attempts))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_each_key_allows_its_attempts_per_window_then_refuses_until_it_ends() -> None:
    clock = Clock()
    limiter = LoginLimiter(MemoryTTLStore(clock=clock), attempts=3, window_seconds=60)
    for _ in range(3):
        assert (await limiter.attempt("10.0.0.1", "ada@example.com")).allowed
    clock.now += 20
    refused = await limiter.attempt("10.0.0.1", "ada@example.com")
    assert not refused.allowed
    assert refused.retry_after_seconds == 40  # the window started at the first attempt
    clock.now += 40
    assert (await limiter.attempt("10.0.0.1", "ada@example.com")).allowed


async def test_one_address_cannot_try_many_accounts() -> None:
    limiter = LoginLimiter(MemoryTTLStore(), attempts=3, window_seconds=60)
    verdicts = [await limiter.attempt("10.0.0.1", f"user{n}@example.com") for n in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]


async def test_many_addresses_cannot_brute_force_one_account() -> None:
    limiter = LoginLimiter(MemoryTTLStore(), attempts=3, window_seconds=60)
    verdicts = [await limiter.attempt(f"10.0.0.{n}", "ada@example.com") for n in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    # Another account from a fresh address is not affected.
    assert (await limiter.attempt("10.0.1.1", "bob@example.com")).allowed


async def test_zero_attempts_disables_the_limit() -> None:
    store = MemoryTTLStore()
    limiter = LoginLimiter(store, attempts=0, window_seconds=60)
    for _ in range(50):
        assert (await limiter.attempt("10.0.0.1", "ada@example.com")).allowed
    assert len(store) == 0


class FailingStore(MemoryTTLStore):
    """An in-process store whose counter fails like an unreachable Redis."""

    async def hit(self, key: str, window_seconds: int, amount: int = 1) -> tuple[int, float]:
        raise RedisConnectionError("Connection refused")


async def test_a_failing_store_lets_logins_through_and_counts_it() -> None:
    limiter = LoginLimiter(FailingStore(), attempts=1, window_seconds=60)
    labels = {"limit": "login"}
    before = REGISTRY.get_sample_value("rate_limit_store_errors_total", labels) or 0.0
    for _ in range(3):
        assert (await limiter.attempt("10.0.0.1", "ada@example.com")).allowed
    assert REGISTRY.get_sample_value("rate_limit_store_errors_total", labels) == before + 3


@pytest.fixture
async def limited_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    limited = settings.model_copy(
        update={"login_attempts_per_window": 3, "login_window_seconds": 60}
    )
    async with serve(limited) as (_, client):
        yield client


async def test_login_over_the_limit_answers_429_with_retry_after(
    limited_client: httpx.AsyncClient,
) -> None:
    credentials = {"email": "ada@example.com", "password": PASSWORD}
    assert (await limited_client.post("/api/v1/auth/register", json=credentials)).is_success
    wrong = {"email": "ada@example.com", "password": "not the password"}
    statuses = [(await limited_client.post(LOGIN, json=wrong)).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    refused = await limited_client.post(LOGIN, json=credentials)  # even the right password
    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert f"retry in {retry_after} seconds" in refused.json()["detail"]


async def test_the_limit_is_configured_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOGIN_ATTEMPTS_PER_WINDOW", "5")
    monkeypatch.setenv("LOGIN_WINDOW_SECONDS", "300")
    settings = Settings(_env_file=None)
    assert (settings.login_attempts_per_window, settings.login_window_seconds) == (5, 300)
    assert Settings(_env_file=None, login_attempts_per_window=0).login_attempts_per_window == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("login_attempts_per_window", -1),
        ("login_window_seconds", 0),
        ("login_window_seconds", 86401),
        ("trusted_proxies", "10.0.0.0/8,not-an-ip"),
    ],
)
def test_bad_limit_settings_are_refused_with_the_field_named(field: str, value: object) -> None:
    values: dict[str, Any] = {field: value}
    with pytest.raises(ValidationError, match=field):
        Settings(_env_file=None, **values)


def _request(peer: str, forwarded_for: str | None = None) -> Request:
    headers = [] if forwarded_for is None else [(b"x-forwarded-for", forwarded_for.encode())]
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "trusted", "expected"),
    [
        # No trusted proxies: the header is anyone's to forge, so it is ignored.
        ("203.0.113.7", "198.51.100.1", [], "203.0.113.7"),
        # From a trusted balancer: the address it appended.
        ("10.0.0.5", "198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),
        # A client-forged entry further left is skipped.
        ("10.0.0.5", "1.2.3.4, 198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),
        # Two trusted hops: the first untrusted address from the right.
        ("10.0.0.5", "198.51.100.1, 10.0.0.9", ["10.0.0.0/8"], "198.51.100.1"),
        # A peer that is not trusted cannot choose its address.
        ("203.0.113.7", "198.51.100.1", ["10.0.0.0/8"], "203.0.113.7"),
        # Garbage from the balancer falls back to the peer.
        ("10.0.0.5", "' OR 1=1--", ["10.0.0.0/8"], "10.0.0.5"),
        ("10.0.0.5", None, ["10.0.0.0/8"], "10.0.0.5"),
    ],
)
def test_client_ip_believes_forwarded_for_only_from_trusted_proxies(
    peer: str, forwarded_for: str | None, trusted: list[str], expected: str
) -> None:
    networks = [ip_network(entry) for entry in trusted]
    assert client_ip(_request(peer, forwarded_for), networks) == expected


async def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    settings: Settings,
) -> None:
    behind_proxy = settings.model_copy(
        update={"login_attempts_per_window": 2, "trusted_proxies": ["127.0.0.0/8"]}
    )
    async with serve(behind_proxy, peer=("127.0.0.1", 5000)) as (_, client):

        async def attempt(address: str, email: str) -> int:
            body = {"email": email, "password": "not the password"}
            headers = {"X-Forwarded-For": address}
            return (await client.post(LOGIN, json=body, headers=headers)).status_code

        first = [await attempt("198.51.100.1", f"u{n}@example.com") for n in range(3)]
        assert first == [401, 401, 429]
        assert await attempt("198.51.100.2", "other@example.com") == 401


async def test_rotating_addresses_within_one_network_shares_its_login_limit(
    settings: Settings,
) -> None:
    """An IPv6 subscriber holds a whole /64: one address per attempt must not reset the
    count (the per-address limit alone let every attempt through)."""
    behind_proxy = settings.model_copy(update={"trusted_proxies": ["127.0.0.0/8"]})
    network_limit = behind_proxy.login_network_attempts_per_window
    assert network_limit > behind_proxy.login_attempts_per_window  # the defaults
    async with serve(behind_proxy, peer=("127.0.0.1", 5000)) as (_, client):

        async def attempt(address: str, email: str) -> httpx.Response:
            body = {"email": email, "password": "not the password"}
            return await client.post(LOGIN, json=body, headers={"X-Forwarded-For": address})

        statuses = [
            (await attempt(f"2001:db8:1:1::{n:x}", f"u{n}@example.com")).status_code
            for n in range(1, network_limit + 2)
        ]
        assert statuses == [401] * network_limit + [429]
        refused = await attempt("2001:db8:1:1:ffff::1", "last@example.com")
        assert refused.status_code == 429
        assert "from its network" in refused.json()["detail"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # The next /64, and IPv4 addresses, are other networks.
        assert (await attempt("2001:db8:1:2::1", "next@example.com")).status_code == 401
        assert (await attempt("198.51.100.1", "v4@example.com")).status_code == 401


def test_login_keys_count_the_address_its_network_and_the_email() -> None:
    keys = login_keys("2001:db8:1:1::7", "ada@example.com", 10, network_limit=20)
    assert [(key.name, key.limit) for key in keys] == [("ip", 10), ("network", 20), ("email", 10)]
    assert keys[1].value == "2001:db8:1:1::/64"
    mapped = login_keys("::ffff:198.51.100.7", "ada@example.com", 10, network_limit=20)
    assert mapped[1].value == "198.51.100.0/24"  # an IPv4-mapped address is IPv4


VIEWER = "cloudfront-viewer-address"


def _viewer_request(peer: str, viewer: str, forwarded_for: str | None = None) -> Request:
    headers = [(VIEWER.encode(), viewer.encode())]
    if forwarded_for is not None:
        headers.append((b"x-forwarded-for", forwarded_for.encode()))
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


@pytest.mark.parametrize(
    ("peer", "viewer", "forwarded_for", "expected"),
    [
        # IPv4 viewer from a trusted proxy: the address without its port.
        ("10.0.0.5", "198.51.100.1:46532", "130.176.1.1", "198.51.100.1"),
        # IPv6 comes unbracketed: the port follows the last ':'.
        ("10.0.0.5", "2001:db8::1:443", None, "2001:db8::1"),
        ("10.0.0.5", "2001:0db8:0000::0007:60000", None, "2001:db8::7"),
        # Malformed values are ignored: X-Forwarded-For (or the peer) decides instead.
        ("10.0.0.5", "198.51.100.1", "198.51.100.9", "198.51.100.9"),
        ("10.0.0.5", "not-an-ip:80", "198.51.100.9", "198.51.100.9"),
        ("10.0.0.5", "198.51.100.1:port", None, "10.0.0.5"),
        ("10.0.0.5", "[2001:db8::1]:443", None, "10.0.0.5"),
        ("10.0.0.5", "' OR 1=1--:1", None, "10.0.0.5"),
        ("10.0.0.5", "", None, "10.0.0.5"),
        # A peer that is not trusted cannot choose its address through the header either.
        ("203.0.113.7", "198.51.100.1:46532", "198.51.100.2", "203.0.113.7"),
    ],
)
def test_client_ip_reads_the_viewer_address_header_only_from_trusted_proxies(
    peer: str, viewer: str, forwarded_for: str | None, expected: str
) -> None:
    networks = [ip_network("10.0.0.0/8")]
    assert client_ip(_viewer_request(peer, viewer, forwarded_for), networks, VIEWER) == expected


def test_without_client_ip_header_the_viewer_address_is_not_believed() -> None:
    request = _viewer_request("10.0.0.5", "198.51.100.1:46532", "198.51.100.9")
    assert client_ip(request, [ip_network("10.0.0.0/8")]) == "198.51.100.9"


async def test_behind_cloudfront_each_viewer_has_its_own_login_limit(settings: Settings) -> None:
    behind_cdn = settings.model_copy(
        update={
            "login_attempts_per_window": 2,
            "trusted_proxies": ["127.0.0.0/8"],
            "client_ip_header": "CloudFront-Viewer-Address",
        }
    )
    async with serve(behind_cdn, peer=("127.0.0.1", 5000)) as (_, client):

        async def attempt(viewer: str, email: str) -> int:
            body = {"email": email, "password": "not the password"}
            # Every request arrives through the same edge (same X-Forwarded-For).
            headers = {"CloudFront-Viewer-Address": viewer, "X-Forwarded-For": "130.176.1.1"}
            return (await client.post(LOGIN, json=body, headers=headers)).status_code

        first = [await attempt("198.51.100.1:1000", f"u{n}@example.com") for n in range(3)]
        assert first == [401, 401, 429]
        assert await attempt("2001:db8::1:1000", "other@example.com") == 401
        assert await attempt("garbage", "third@example.com") == 401


async def test_registration_is_limited_per_address_and_per_network() -> None:
    limiter = RateLimiter(MemoryTTLStore(), limit="registration", window_seconds=3600)

    async def allowed(address: str) -> bool:
        keys = registration_keys(address, ip_limit=2, network_limit=3)
        return (await limiter.attempt(keys)).allowed

    assert [await allowed("198.51.100.1") for _ in range(3)] == [True, True, False]
    # Rotating addresses within one /24 shares the network's count (3, one already refused).
    assert await allowed("198.51.100.2") is False
    assert await allowed("198.51.101.1") is True  # the next /24 is another network
    # IPv6: one /64 is one network, whatever the interface id; IPv4-mapped is IPv4.
    assert [await allowed(f"2001:db8:0:1::{n}") for n in range(1, 5)] == [True] * 3 + [False]
    assert await allowed("2001:db8:0:2::1") is True
    assert await allowed("::ffff:198.51.101.9") is True
    assert await allowed("198.51.101.10") is True
    assert await allowed("198.51.101.11") is False  # 198.51.101.0/24 counted the mapped one


async def test_registration_over_the_limit_answers_429_with_retry_after(
    settings: Settings,
) -> None:
    limited = settings.model_copy(
        update={"registration_attempts_per_window": 2, "registration_window_seconds": 600}
    )
    async with serve(limited) as (_, client):
        statuses = []
        for n in range(3):
            body = {"email": f"user{n}@example.com", "password": PASSWORD}
            statuses.append((await client.post(REGISTER, json=body)).status_code)
        refused = await client.post(REGISTER, json={"email": "x@example.com", "password": PASSWORD})
    assert statuses == [202, 202, 429]
    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 600
    assert refused.json()["detail"] == (
        f"Too many sign-ups from this address or network: retry in {retry_after} seconds"
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("login_network_attempts_per_window", -1),
        ("registration_attempts_per_window", -1),
        ("registration_network_attempts_per_window", -1),
        ("registration_window_seconds", 0),
        ("rate_limit_ipv4_prefix_length", 33),
        ("rate_limit_ipv6_prefix_length", 8),
    ],
)
def test_bad_registration_limit_settings_are_refused(field: str, value: int) -> None:
    values: dict[str, Any] = {field: value}
    with pytest.raises(ValidationError, match=field):
        Settings(_env_file=None, **values)
