"""Password hashing with argon2id: off the event loop, and a few at a time.

Hashing is deliberately slow and large: tens of milliseconds of CPU and 64 MiB of memory
per hash. It runs in a worker thread (argon2 releases the GIL), so other requests keep
being served, and behind a semaphore: at most PASSWORD_HASHING_CONCURRENCY hashes run in
one process at once. A burst of sign-ups or logins waits up to
PASSWORD_HASHING_WAIT_SECONDS for a slot and then answers 503 with Retry-After, instead of
running 40 hashes (the thread pool's size) at once and 2.5 GiB past the task's memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from prometheus_client import Counter, Gauge

T = TypeVar("T")

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so both cases take the same time.
_UNKNOWN_USER_HASH = _hasher.hash("unknown-user-placeholder-password")

BUSY = Counter(
    "password_hashing_busy_total",
    "Sign-ups and logins answered 503 because no hashing slot freed up in time.",
)
WAITING = Gauge("password_hashing_waiting", "Requests waiting for a password hashing slot.")


class HashingBusyError(Exception):
    """Every hashing slot stayed taken for the whole wait."""


class PasswordHashing:
    """argon2id hashes and checks, at most ``concurrency`` at once in this process."""

    def __init__(self, *, concurrency: int = 2, wait_seconds: float = 2.0) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self.wait_seconds = wait_seconds

    async def hash(self, password: str) -> str:
        return await self._run(_hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; ``None`` (unknown user) never matches."""
        candidate = password_hash if password_hash is not None else _UNKNOWN_USER_HASH
        return await self._run(_matches, candidate, password) and password_hash is not None

    async def _run(self, work: Callable[..., T], *args: str) -> T:
        WAITING.inc()
        try:
            async with asyncio.timeout(self.wait_seconds):
                await self._slots.acquire()
        except TimeoutError:
            BUSY.inc()
            raise HashingBusyError from None
        finally:
            WAITING.dec()
        try:
            return await anyio.to_thread.run_sync(work, *args)
        finally:
            self._slots.release()


async def hash_password(password: str) -> str:
    """One hash outside any service (seeds, scripts): not bounded by a semaphore."""
    return await anyio.to_thread.run_sync(_hasher.hash, password)


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
