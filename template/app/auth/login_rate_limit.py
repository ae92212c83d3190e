"""Login rate limit: a fixed window of attempts per client IP and per account email.

Both keys count every attempt (right or wrong password), and either one running over
answers 429 with Retry-After:

- per IP, so one address cannot try many accounts (credential stuffing);
- per email, so many addresses (a botnet, IP rotation) cannot brute-force one account.

The price of the email key is that anyone can keep one account's logins refused by
spending the attempts themselves, for one window at a time (LOGIN_WINDOW_SECONDS); the
real owner's existing sessions keep working, and refresh is not limited. Counting every
attempt (not only failures) keeps the check one atomic store call, so parallel guesses
cannot slip past it. Emails are hashed in keys so the store holds no addresses.

The counters live in the TTL store: Redis when REDIS_URL is set (shared by every
instance), the in-process store otherwise. A store error lets the login through (fails
open): a cache outage must not lock everyone out. It is logged and counted in
``login_rate_limit_store_errors_total``.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass

from fastapi import HTTPException, status
from prometheus_client import Counter
from redis.exceptions import RedisError

from app.stores import TTLStore

KEY_PREFIX = "login-attempts:"
logger = logging.getLogger(__name__)

STORE_ERRORS = Counter(
    "login_rate_limit_store_errors_total",
    "Login attempts let through unchecked because the rate-limit store failed.",
)
LIMITED = Counter("login_rate_limited_total", "Login attempts refused with 429, by key.", ["key"])


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_seconds: int = 0


class LoginRateLimiter:
    def __init__(self, store: TTLStore, *, attempts: int, window_seconds: int) -> None:
        self._store = store
        self.attempts = attempts
        self.window_seconds = window_seconds

    @property
    def enabled(self) -> bool:
        return self.attempts > 0

    async def attempt(self, client_ip: str, email: str) -> Verdict:
        """Count one login attempt from ``client_ip`` for ``email``."""
        if not self.enabled:
            return Verdict(allowed=True)
        email_digest = hashlib.sha256(email.encode()).hexdigest()
        limited, retry_after = False, 0.0
        for name, key in (("ip", f"ip:{client_ip}"), ("email", f"email:{email_digest}")):
            try:
                count, resets_in = await self._store.hit(KEY_PREFIX + key, self.window_seconds)
            except (RedisError, OSError) as error:
                STORE_ERRORS.inc()
                logger.warning(
                    "login rate limit store failed: letting the attempt through", exc_info=error
                )
                return Verdict(allowed=True)
            if count > self.attempts:
                LIMITED.labels(name).inc()
                limited, retry_after = True, max(retry_after, resets_in)
        if limited:
            return Verdict(allowed=False, retry_after_seconds=max(1, math.ceil(retry_after)))
        return Verdict(allowed=True)

    async def check(self, client_ip: str, email: str) -> None:
        """Raise the 429 when this attempt is over either limit."""
        verdict = await self.attempt(client_ip, email)
        if not verdict.allowed:
            seconds = verdict.retry_after_seconds
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"Too many login attempts for this account or from this address: "
                f"retry in {seconds} seconds",
                {"Retry-After": str(seconds)},
            )
