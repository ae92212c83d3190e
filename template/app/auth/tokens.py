"""Short-lived access tokens: HS256 JWTs verified without any store lookup."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"
TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret


class InvalidAccessTokenError(Exception):
    """The token is missing claims, expired, tampered with or signed otherwise."""


@dataclass(frozen=True, slots=True)
class AccessTokenClaims:
    user_id: int
    token_id: str
    issued_at: datetime
    expires_at: datetime


class AccessTokens:
    """Issues and verifies access tokens with one secret key."""

    def __init__(
        self,
        secret_key: str,
        *,
        ttl_seconds: int = 900,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._secret_key = secret_key
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    def issue(self, user_id: int) -> str:
        now = self._clock()
        claims = {
            "sub": str(user_id),
            "type": TOKEN_TYPE,
            "jti": secrets.token_urlsafe(16),
            "iat": now,
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
                options={"require": ["exp", "iat", "sub", "jti", "type"]},
            )
        except jwt.PyJWTError as error:
            raise InvalidAccessTokenError(str(error)) from error
        if claims["type"] != TOKEN_TYPE or not str(claims["sub"]).isdigit():
            raise InvalidAccessTokenError("not an access token")
        return AccessTokenClaims(
            user_id=int(claims["sub"]),
            token_id=claims["jti"],
            issued_at=datetime.fromtimestamp(claims["iat"], UTC),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
