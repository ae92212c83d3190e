"""Short-lived access tokens: HS256 JWTs verified by signature and claims.

Each token names its issuer and audience (JWT_ISSUER, JWT_AUDIENCE: the service's slug
by default), so a token another service signed with a shared key is refused here, and
the session (refresh-token family) it was issued for, so a logout can revoke it
(app/auth/revocations.py). exp, iat and nbf are checked with JWT_LEEWAY_SECONDS of
tolerance, because the instance that issued a token and the one checking it never have
exactly the same clock.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from app.db.types import MAX_BIGINT

ALGORITHM = "HS256"
TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "type", "fam"]
# A user id as issue() writes it: ASCII digits ([0-9], not str.isdigit(), which accepts
# '²'), no leading zero, and within the id column (checked after parsing).
_USER_ID = re.compile(r"[1-9][0-9]{0,18}")


class InvalidAccessTokenError(Exception):
    """The token is missing claims, expired, tampered with or signed otherwise."""


@dataclass(frozen=True, slots=True)
class AccessTokenClaims:
    user_id: int
    token_id: str
    family_id: str
    issued_at: datetime
    expires_at: datetime


class AccessTokens:
    """Issues and verifies access tokens with one secret key."""

    def __init__(
        self,
        secret_key: str,
        *,
        issuer: str,
        audience: str,
        ttl_seconds: int = 900,
        leeway_seconds: int = 30,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._secret_key = secret_key
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        self.leeway_seconds = leeway_seconds
        self._clock = clock

    def issue(self, user_id: int, family_id: str) -> str:
        now = self._clock()
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "type": TOKEN_TYPE,
            "jti": secrets.token_urlsafe(16),
            "fam": family_id,
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(seconds=self.ttl_seconds),
        }
        return jwt.encode(claims, self._secret_key, algorithm=ALGORITHM)

    def verify(self, token: str) -> AccessTokenClaims:
        try:
            # The algorithm list is pinned: a token's own header never chooses it,
            # which is what defeats alg=none and key-confusion attacks.
            claims = jwt.decode(
                token,
                self._secret_key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway_seconds,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as error:
            raise InvalidAccessTokenError(str(error)) from error
        # Signed with our key, yet maybe not by issue(): a key shared with another service,
        # or a leaked one. Every claim read below has the type issue() writes, or the token
        # is refused (401), never a 500 further on.
        sub = claims["sub"]
        if (
            claims["type"] != TOKEN_TYPE
            or not isinstance(sub, str)
            or not _USER_ID.fullmatch(sub)
            or int(sub) > MAX_BIGINT
            or not isinstance(claims["fam"], str)
            or not isinstance(claims["jti"], str)
        ):
            raise InvalidAccessTokenError("not an access token")
        return AccessTokenClaims(
            user_id=int(sub),
            token_id=claims["jti"],
            family_id=claims["fam"],
            issued_at=_timestamp(claims["iat"]),
            expires_at=_timestamp(claims["exp"]),
        )


def _timestamp(value: Any) -> datetime:
    """A NumericDate claim as issue() writes it (an integer a datetime holds), else refused.

    PyJWT checks exp and iat after int(), so "1796693552" (a string) or 10**20 (past year
    9999) pass its checks and would fail here as TypeError or OverflowError.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidAccessTokenError("exp and iat must be integers")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidAccessTokenError("exp or iat is out of range") from None
