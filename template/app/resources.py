"""The long-lived objects one application instance shares across requests.

``create_app`` (app/main.py) builds them; routes reach them through app/api/deps.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from app.api.static_files import StaticAssets
    from app.auth.passwords import PasswordHashing
    from app.auth.refresh_tokens import RefreshTokens
    from app.auth.revocations import RevokedFamilies
    from app.auth.tokens import AccessTokens
    from app.cache import Cache
    from app.db.read_your_writes import LsnTokens
    from app.db.routing import ReadRouter
    from app.db.schema import SchemaCheck
    from app.http.precompressed import BodyEncodings
    from app.jobs.runtime import JobRuntime
    from app.settings import Settings
    from app.stores import TTLStore


@dataclass(frozen=True, slots=True)
class Resources:
    """Built once by ``create_app`` and closed by its lifespan."""

    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    store: TTLStore
    access_tokens: AccessTokens
    refresh_tokens: RefreshTokens
    revoked_families: RevokedFamilies
    passwords: PasswordHashing
    read_router: ReadRouter
    lsn_tokens: LsnTokens
    jobs: JobRuntime
    cache: Cache
    static_assets: StaticAssets
    schema: SchemaCheck
    # How cached bodies are stored (app/http/precompressed.py).
    body_encodings: BodyEncodings
    # The Cache-Control value of public responses, encoded once.
    public_cache_control: bytes
