"""Fixed-window rate limits on the TTL store: login and registration.

A limiter counts one event against several keys at once, and any key over its limit
answers 429 with Retry-After. The keys say who is limited:

- login: per client IP (one address cannot try many accounts), per client network (a
  /24 or /64 by default: an IPv6 subscriber holds a whole /64, so rotating addresses in
  it must not reset the count) and per account email (many addresses cannot brute-force
  one account). The price of the email key is that anyone can keep one account's logins
  refused for one window at a time; the owner's sessions and refreshes keep working.
- registration: per client IP and per client network, since each sign-up costs an
  argon2 hash and a row, and one allocation holds many addresses.

Counting every attempt (not only failures) keeps each key one atomic store call, so
parallel requests cannot slip past it. Emails are hashed in keys so the store holds no
addresses. The counters live in the TTL store: Redis when REDIS_URL is set (shared by
every instance), the in-process store otherwise. A store error lets the request through
(fails open): a cache outage must not lock everyone out. It is logged and counted in
``rate_limit_store_errors_total``.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import ip_address, ip_network

from fastapi import HTTPException, status
from prometheus_client import Counter
from redis.exceptions import RedisError

from app.stores import TTLStore

KEY_PREFIX = "rate:"
logger = logging.getLogger(__name__)

STORE_ERRORS = Counter(
    "rate_limit_store_errors_total",
    "Requests let through unchecked because the rate-limit store failed, by limit.",
    ["limit"],
)
LIMITED = Counter(
    "rate_limited_total", "Requests refused with 429, by limit and key.", ["limit", "key"]
)


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_seconds: int = 0


@dataclass(frozen=True, slots=True)
class Key:
    """One counter: ``name`` labels metrics, ``value`` identifies whom it counts."""

    name: str
    value: str
    limit: int


class RateLimiter:
    """Counts events of one kind (``limit``: "login", "registration") per key."""

    def __init__(self, store: TTLStore, *, limit: str, window_seconds: int) -> None:
        self._store = store
        self.limit = limit
        self.window_seconds = window_seconds

    async def attempt(self, keys: Sequence[Key]) -> Verdict:
        """Count one event against every key whose limit is on (above 0)."""
        limited, retry_after = False, 0.0
        for key in keys:
            if key.limit <= 0:
                continue
            store_key = f"{KEY_PREFIX}{self.limit}:{key.name}:{key.value}"
            try:
                count, resets_in = await self._store.hit(store_key, self.window_seconds)
            except (RedisError, OSError) as error:
                STORE_ERRORS.labels(self.limit).inc()
                logger.warning(
                    "%s rate limit store failed: letting the request through",
                    self.limit,
                    exc_info=error,
                )
                return Verdict(allowed=True)
            if count > key.limit:
                LIMITED.labels(self.limit, key.name).inc()
                limited, retry_after = True, max(retry_after, resets_in)
        if limited:
            return Verdict(allowed=False, retry_after_seconds=max(1, math.ceil(retry_after)))
        return Verdict(allowed=True)

    async def check(self, keys: Sequence[Key], refusal: str) -> None:
        """Raise the 429 when this event is over any key's limit; ``refusal`` says why."""
        verdict = await self.attempt(keys)
        if not verdict.allowed:
            seconds = verdict.retry_after_seconds
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"{refusal}: retry in {seconds} seconds",
                {"Retry-After": str(seconds)},
            )


def login_keys(
    client_ip: str,
    email: str,
    limit: int,
    *,
    network_limit: int = 0,
    ipv4_prefix_length: int = 24,
    ipv6_prefix_length: int = 64,
) -> list[Key]:
    """Per client IP and per account email, ``limit`` each; per client network
    ``network_limit`` (0: none)."""
    email_digest = hashlib.sha256(email.encode()).hexdigest()
    network = network_key(
        client_ip,
        network_limit,
        ipv4_prefix_length=ipv4_prefix_length,
        ipv6_prefix_length=ipv6_prefix_length,
    )
    return [Key("ip", client_ip, limit), network, Key("email", email_digest, limit)]


def registration_keys(
    client_ip: str,
    *,
    ip_limit: int,
    network_limit: int,
    ipv4_prefix_length: int = 24,
    ipv6_prefix_length: int = 64,
) -> list[Key]:
    """Per client IP and per the client's network."""
    network = network_key(
        client_ip,
        network_limit,
        ipv4_prefix_length=ipv4_prefix_length,
        ipv6_prefix_length=ipv6_prefix_length,
    )
    return [Key("ip", client_ip, ip_limit), network]


def network_key(
    client_ip: str, limit: int, *, ipv4_prefix_length: int, ipv6_prefix_length: int
) -> Key:
    """The client's /N network, so addresses rotated within one allocation share a count."""
    try:
        address = ip_address(client_ip)
    except ValueError:  # "unknown" (no peer): one shared bucket, as for the IP key
        return Key("network", client_ip, limit)
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = ipv4_prefix_length if address.version == 4 else ipv6_prefix_length
    return Key("network", str(ip_network(f"{address}/{prefix}", strict=False)), limit)
