"""Revoked sessions: a logout stops that session's access tokens within seconds.

Access tokens are checked without a store, so on their own they outlive a logout by up
to ACCESS_TOKEN_TTL_SECONDS. Each one names its session (the refresh-token family, claim
``fam``); revoking a family (logout, or a stolen refresh token's reuse) writes a marker
``revoked-family:<id>`` to the TTL store (Redis in production, seen by every instance)
that lives as long as the family's last access token can. A protected request asks
whether its family is revoked, and each instance remembers the answer for
ACCESS_TOKEN_REVOCATION_CACHE_SECONDS: at most one store read per session per instance
per interval, a dict lookup otherwise. The instance that revokes knows at once; the
others within that interval.

A failing store does not lock users out: the check passes (fails open, as access tokens
did before this check existed), is logged and counted in
``revocation_check_store_errors_total``, and the store is not asked again for one cache
interval, so a dead Redis costs one timeout per interval rather than one per request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from prometheus_client import Counter
from redis.exceptions import RedisError

from app.stores import TTLStore

KEY_PREFIX = "revoked-family:"
MAX_CACHED_FAMILIES = 100_000
logger = logging.getLogger(__name__)

STORE_ERRORS = Counter(
    "revocation_check_store_errors_total",
    "Access tokens let through unchecked because the revocation store failed.",
)


class RevokedFamilies:
    def __init__(
        self,
        store: TTLStore,
        *,
        marker_ttl_seconds: int,
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self.marker_ttl_seconds = marker_ttl_seconds
        self.cache_seconds = cache_seconds
        self._clock = clock
        # family id -> (trusted until, revoked); insertion order is age, for eviction.
        self._known: dict[str, tuple[float, bool]] = {}
        self._store_down_until = 0.0

    async def revoke(self, family_id: str) -> None:
        await self._store.set(KEY_PREFIX + family_id, b"1", self.marker_ttl_seconds)
        self._remember(family_id, revoked=True, now=self._clock())

    async def is_revoked(self, family_id: str) -> bool:
        now = self._clock()
        known = self._known.get(family_id)
        if known is not None and known[0] > now:
            return known[1]
        if now < self._store_down_until:
            return False
        try:
            revoked = await self._store.get(KEY_PREFIX + family_id) is not None
        except (RedisError, OSError) as error:
            STORE_ERRORS.inc()
            logger.warning("revocation check failed: letting the token through", exc_info=error)
            self._store_down_until = now + self.cache_seconds
            return False
        self._remember(family_id, revoked=revoked, now=now)
        return revoked

    def _remember(self, family_id: str, *, revoked: bool, now: float) -> None:
        if self.cache_seconds <= 0:
            return
        self._known.pop(family_id, None)
        if len(self._known) >= MAX_CACHED_FAMILIES:
            del self._known[next(iter(self._known))]
        self._known[family_id] = (now + self.cache_seconds, revoked)
