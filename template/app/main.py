"""The application factory: one FastAPI app wired from one Settings object."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import about, static_files
from app.api import api_router, health, landing
from app.auth.refresh_tokens import RefreshTokens
from app.auth.tokens import AccessTokens
from app.cache import Cache
from app.db.engine import create_engine
from app.db.session import create_session_factory
from app.http_cache import CacheControlMiddleware
from app.redis_store import create_store
from app.settings import Settings
from app.state import Resources


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; ``settings`` defaults to the environment (tests pass their own)."""
    settings = settings or Settings()
    resources = _build_resources(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await resources.store.close()
            await resources.engine.dispose()

    app = FastAPI(
        title=about.NAME,
        description=about.DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.resources = resources
    app.include_router(health.router)
    app.include_router(api_router)
    app.include_router(landing.router)
    app.include_router(static_files.router)
    app.add_middleware(CacheControlMiddleware)
    return app


def _build_resources(settings: Settings) -> Resources:
    engine = create_engine(settings.primary_database_url, settings)
    store = create_store(settings)
    return Resources(
        settings=settings,
        engine=engine,
        session_factory=create_session_factory(engine),
        store=store,
        access_tokens=AccessTokens(
            settings.jwt_secret_key.get_secret_value(),
            ttl_seconds=settings.access_token_ttl_seconds,
        ),
        refresh_tokens=RefreshTokens(store, ttl_seconds=settings.refresh_token_ttl_seconds),
        static_assets=static_files.StaticAssets(url_prefix=settings.static_url),
        cache=Cache(
            store,
            ttl_seconds=settings.cache_ttl_seconds,
            jitter_ratio=settings.cache_ttl_jitter_ratio,
            lock_timeout_ms=settings.cache_lock_timeout_ms,
            circuit_open_seconds=settings.cache_circuit_open_seconds,
        ),
    )
