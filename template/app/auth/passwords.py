"""Password hashing with argon2id, off the event loop.

Hashing is deliberately slow (tens of milliseconds of CPU), so it runs in a worker
thread; argon2 releases the GIL, and other requests keep being served meanwhile.
"""

from __future__ import annotations

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so both cases take the same time.
_UNKNOWN_USER_HASH = _hasher.hash("unknown-user-placeholder-password")


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; ``None`` (unknown user) never matches."""
    candidate = password_hash if password_hash is not None else _UNKNOWN_USER_HASH
    try:
        matches = await anyio.to_thread.run_sync(_hasher.verify, candidate, password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and password_hash is not None
