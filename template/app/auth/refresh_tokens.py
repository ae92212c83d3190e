"""Rotating refresh tokens: opaque, stored only as a SHA-256 hash, with a TTL.

Each refresh consumes the presented token and issues a new one, so a token works
exactly once; logout deletes it. A stolen copy of the store reveals no usable token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import orjson

from app.ttl_store import TTLStore

KEY_PREFIX = "refresh:"


@dataclass(frozen=True, slots=True)
class RefreshSession:
    user_id: int
    # Every token rotated from one login shares the family (reuse detection builds on it).
    family_id: str


class RefreshTokens:
    def __init__(self, store: TTLStore, *, ttl_seconds: int) -> None:
        self._store = store
        self.ttl_seconds = ttl_seconds

    async def issue(self, user_id: int, family_id: str | None = None) -> str:
        token = secrets.token_urlsafe(32)
        session = {"user_id": user_id, "family_id": family_id or secrets.token_urlsafe(12)}
        await self._store.set(_key(token), orjson.dumps(session), self.ttl_seconds)
        return token

    async def rotate(self, token: str) -> tuple[RefreshSession, str] | None:
        """Consume ``token`` and return its session with a new token, or None if unusable."""
        stored = await self._store.take(_key(token))
        if stored is None:
            return None
        session = RefreshSession(**orjson.loads(stored))
        return session, await self.issue(session.user_id, session.family_id)

    async def revoke(self, token: str) -> None:
        await self._store.delete(_key(token))


def _key(token: str) -> str:
    return KEY_PREFIX + hashlib.sha256(token.encode()).hexdigest()
