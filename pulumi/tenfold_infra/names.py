"""Physical AWS names that always fit their service's length limit.

Pulumi auto-names a resource `<logical name>-<7 random characters>`, which overflows short
limits (an ALB or a target group allows 32 characters) once a project slug is long. Every
length-limited resource therefore gets an explicit name from `fit`: the readable name when
it fits, otherwise its head plus a short hash of the whole, so two long names that share a
prefix still differ and the same input always gives the same name (no replacement on the
next `pulumi up`).
"""

from __future__ import annotations

import hashlib

HASH_CHARS = 6


def fit(name: str, limit: int) -> str:
    """`name` itself if it has at most `limit` characters, else `<head>-<hash>` of exactly `limit`."""
    if limit <= HASH_CHARS + 1:
        raise ValueError(f"a name limit of {limit} leaves no room for a readable head")
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:HASH_CHARS]
    head = name[: limit - HASH_CHARS - 1].rstrip("-")
    return f"{head}-{digest}"
