"""Read-your-writes tokens: the WAL position of a client's last write, signed by the server.

After a write, the client gets ``<lsn>.<signature>`` in the ``X-Read-After-LSN`` header
and the ``read_after_lsn`` cookie; its later reads send it back and wait for a replica
that has replayed that position (app/db/routing.py). The signature (HMAC-SHA256 under a
key derived from JWT_SECRET_KEY, 128 bits) makes the position one this service handed
out: a client cannot invent a future position to force every read onto the primary, or
make each read re-measure every replica.

A value that is not exactly such a token (not ASCII digits, longer than a token, beyond
PostgreSQL's LSN range, or wrongly signed) is ignored: the read is routed as if no token
came, never answered 400 or 500. The cookie comes back by itself, so a stale one (from
before a key rotation, or from another deployment) must not break the client's reads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

READ_AFTER_LSN_COOKIE = "read_after_lsn"
READ_AFTER_LSN_HEADER = "X-Read-After-LSN"

# pg_lsn is an unsigned 64-bit position: at most FFFFFFFF/FFFFFFFF, 20 decimal digits.
MAX_LSN = 2**64 - 1
SIGNATURE_BYTES = 16
# [0-9], not \d or str.isdigit(): both accept non-ASCII digits such as '²' or '٣'.
_TOKEN = re.compile(r"([0-9]{1,20})\.([A-Za-z0-9_-]{22})")
MAX_TOKEN_LENGTH = 20 + 1 + 22


class LsnTokens:
    """Issues and verifies read-your-writes tokens with one server key."""

    def __init__(self, secret_key: bytes) -> None:
        # A key of its own, so a token is never valid as anything else signed with the secret.
        key = hmac.new(secret_key, b"tenfold read-after-lsn v1", hashlib.sha256).digest()
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)  # copied per token: no re-keying

    def issue(self, lsn: int) -> str:
        digits = str(lsn)
        return f"{digits}.{self._sign(digits)}"

    def verify(self, token: str | None) -> int | None:
        """The LSN of a token this service issued, else None (ignored, see the module doc)."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        match = _TOKEN.fullmatch(token)
        if match is None:
            return None
        digits, signature = match.groups()
        if not hmac.compare_digest(signature, self._sign(digits)):
            return None
        lsn = int(digits)
        return lsn if lsn <= MAX_LSN else None

    def newest(self, header: str | None, cookie: str | None) -> int | None:
        """The newest valid position among the header and the cookie a client sent."""
        positions = [lsn for lsn in (self.verify(header), self.verify(cookie)) if lsn is not None]
        return max(positions, default=None)

    def _sign(self, digits: str) -> str:
        mac = self._keyed.copy()
        mac.update(digits.encode())
        return base64.urlsafe_b64encode(mac.digest()[:SIGNATURE_BYTES]).rstrip(b"=").decode()
