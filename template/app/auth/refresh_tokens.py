"""Rotating refresh tokens: opaque, stored only as a SHA-256 hash, with a TTL.

Each login starts a token family. A refresh consumes the presented token and issues
the next one of its family, so a token works once. Presenting a consumed token again
means it was stolen (the thief or the owner refreshed first), so the whole family is
revoked: every token descended from that login stops working, and so do its access
tokens (app/auth/revocations.py). Logout revokes the family too. Every key carries the
refresh TTL, so idle and revoked sessions disappear from the store on their own. A
stolen copy of the store reveals no usable token.

Retries: a client whose refresh timed out sends the same token again, and several tabs
may refresh at once. For REFRESH_TOKEN_REUSE_GRACE_SECONDS after a rotation, presenting
the rotated token again returns the same new refresh token instead of revoking the
family. The rotation claims the token with one atomic "set if absent" of a marker
``refresh-rotated:<sha256>`` that holds when it happened and the successor token,
encrypted with a one-time pad derived from the presented token: only a holder of that
token can read it, so the store still holds nothing usable. The successor is stored
before the marker claims the rotation, so a retry that reads the marker can use it at
once. The grace window is what a thief racing the owner gets too; past it, reuse
revokes as before.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from app.stores import TTLStore

if TYPE_CHECKING:
    from app.auth.revocations import RevokedFamilies

KEY_PREFIX = "refresh:"
ROTATED_PREFIX = "refresh-rotated:"
FAMILY_PREFIX = "refresh-family:"
TOKEN_BYTES = 32
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RefreshSession:
    user_id: int
    # Every token rotated from one login shares the family; reuse revokes all of them.
    family_id: str


class RefreshTokens:
    def __init__(
        self,
        store: TTLStore,
        *,
        ttl_seconds: int,
        reuse_grace_seconds: float = 10.0,
        revoked_families: RevokedFamilies | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self.ttl_seconds = ttl_seconds
        self.reuse_grace_seconds = reuse_grace_seconds
        self._revoked_families = revoked_families
        # Wall-clock: another instance may read the rotation time this one wrote.
        self._clock = clock

    async def start(self, user_id: int) -> tuple[RefreshSession, str]:
        """A login: a new family and its first token."""
        session = RefreshSession(user_id, secrets.token_urlsafe(12))
        await self._store.set(family_key(session.family_id), b"1", self.ttl_seconds)
        token = _new_token()
        await self._store.set(token_key(token), _dumps(session), self.ttl_seconds)
        return session, token

    async def rotate(self, token: str) -> tuple[RefreshSession, str] | None:
        """Consume ``token`` and return its session with the next token, or None if unusable."""
        stored = await self._store.get(token_key(token))
        if not stored:
            return None  # unknown, expired or logged out
        session = _loads(stored)
        if orjson.loads(stored).get("used"):  # consumed before rotation markers existed
            await self.revoke_family(session.family_id)
            return None
        successor = _new_token()
        await self._store.set(token_key(successor), _dumps(session), self.ttl_seconds)
        rotation = orjson.dumps({"at": self._clock(), "next": _sealed(successor, token)})
        # Set-if-absent is atomic, so of concurrent refreshes exactly one rotates.
        if not await self._store.add(rotated_key(token), rotation, self.ttl_seconds * 1000):
            # Never handed out: another request rotated this token first.
            await self._store.delete(token_key(successor))
            earlier = await self._successor_within_grace(token, session)
            if earlier is None:
                return None
            successor = earlier
        # Restarting the family's TTL also checks it was not revoked meanwhile.
        if not await self._store.expire(family_key(session.family_id), self.ttl_seconds):
            return None
        return session, successor

    async def _successor_within_grace(self, token: str, session: RefreshSession) -> str | None:
        """The token the first rotation issued if it was recent; otherwise revoke the family."""
        marker = await self._store.get(rotated_key(token))
        if marker is None:
            return None  # expired together with the token
        rotation = orjson.loads(marker)
        if self._clock() - float(rotation["at"]) <= self.reuse_grace_seconds:
            return _unsealed(rotation["next"], token)
        logger.warning("refresh token reused: revoking its family (user %s)", session.user_id)
        await self.revoke_family(session.family_id)
        return None

    async def revoke(self, token: str) -> None:
        """Logout: the token and every other token of its family stop working."""
        stored = await self._store.take(token_key(token))
        if stored:
            await self.revoke_family(_loads(stored).family_id)

    async def revoke_family(self, family_id: str) -> None:
        await self._store.delete(family_key(family_id))
        if self._revoked_families is not None:
            await self._revoked_families.revoke(family_id)


def token_key(token: str) -> str:
    return KEY_PREFIX + hashlib.sha256(token.encode()).hexdigest()


def rotated_key(token: str) -> str:
    return ROTATED_PREFIX + hashlib.sha256(token.encode()).hexdigest()


def family_key(family_id: str) -> str:
    return FAMILY_PREFIX + family_id


def _new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _pad(token: str) -> bytes:
    """A one-time pad only the holder of ``token`` can compute (not its store key)."""
    return hashlib.sha256(b"refresh-successor:" + token.encode()).digest()


def _sealed(successor: str, token: str) -> str:
    raw = base64.urlsafe_b64decode(successor + "=" * (-len(successor) % 4))
    return base64.b64encode(bytes(a ^ b for a, b in zip(raw, _pad(token), strict=True))).decode()


def _unsealed(sealed: str, token: str) -> str:
    raw = bytes(a ^ b for a, b in zip(base64.b64decode(sealed), _pad(token), strict=True))
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _dumps(session: RefreshSession) -> bytes:
    return orjson.dumps({"user_id": session.user_id, "family_id": session.family_id})


def _loads(stored: bytes) -> RefreshSession:
    data = orjson.loads(stored)
    return RefreshSession(int(data["user_id"]), str(data["family_id"]))
