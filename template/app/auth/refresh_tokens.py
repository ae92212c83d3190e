"""Rotating refresh tokens: opaque, stored only as a SHA-256 hash, with a TTL.

Each login starts a token family. A refresh consumes the presented token and issues
the next one of its family, so a token works exactly once; the consumed token is kept
as a "used" marker. Presenting a used token again means it was stolen (the thief or
the owner refreshed first), so the whole family is revoked: every token descended from
that login stops working. Logout revokes the family too. Every key carries the refresh
TTL, so idle and revoked sessions disappear from the store on their own. A stolen
copy of the store reveals no usable token.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass

import orjson

from app.stores import TTLStore

KEY_PREFIX = "refresh:"
FAMILY_PREFIX = "refresh-family:"
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RefreshSession:
    user_id: int
    # Every token rotated from one login shares the family; reuse revokes all of them.
    family_id: str
    used: bool = False


class RefreshTokens:
    def __init__(self, store: TTLStore, *, ttl_seconds: int) -> None:
        self._store = store
        self.ttl_seconds = ttl_seconds

    async def issue(self, user_id: int, family_id: str | None = None) -> str:
        """A new token; without ``family_id`` it starts a new family (a login)."""
        if family_id is None:
            family_id = secrets.token_urlsafe(12)
            await self._store.set(family_key(family_id), b"1", self.ttl_seconds)
        token = secrets.token_urlsafe(32)
        session = RefreshSession(user_id, family_id)
        await self._store.set(token_key(token), _dumps(session), self.ttl_seconds)
        return token

    async def rotate(self, token: str) -> tuple[RefreshSession, str] | None:
        """Consume ``token`` and return its session with a new token, or None if unusable."""
        # One atomic step marks the token used and returns what it was, so two
        # concurrent refreshes with one token can never both succeed.
        stored = await self._store.swap(token_key(token), b"", self.ttl_seconds)
        if not stored:
            return None  # unknown or expired (b"": swapped concurrently, treat as unknown)
        session = RefreshSession(**orjson.loads(stored))
        await self._store.set(token_key(token), _dumps(session, used=True), self.ttl_seconds)
        if session.used:
            logger.warning("refresh token reused: revoking its family (user %s)", session.user_id)
            await self.revoke_family(session.family_id)
            return None
        # Restarting the family's TTL also checks it was not revoked meanwhile.
        if not await self._store.expire(family_key(session.family_id), self.ttl_seconds):
            return None
        return session, await self.issue(session.user_id, session.family_id)

    async def revoke(self, token: str) -> None:
        """Logout: the token and every other token of its family stop working."""
        stored = await self._store.take(token_key(token))
        if stored:
            await self.revoke_family(RefreshSession(**orjson.loads(stored)).family_id)

    async def revoke_family(self, family_id: str) -> None:
        await self._store.delete(family_key(family_id))


def token_key(token: str) -> str:
    return KEY_PREFIX + hashlib.sha256(token.encode()).hexdigest()


def family_key(family_id: str) -> str:
    return FAMILY_PREFIX + family_id


def _dumps(session: RefreshSession, *, used: bool = False) -> bytes:
    return orjson.dumps({"user_id": session.user_id, "family_id": session.family_id, "used": used})
