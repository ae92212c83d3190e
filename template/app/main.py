"""The application factory: one FastAPI app wired from one Settings object."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import about
from app.api import api_router, health
from app.auth.refresh_tokens import RefreshTokens
from app.auth.tokens import AccessTokens
from app.db.engine import create_engine
from app.db.session import create_session_factory
from app.jobs.runtime import JobRuntime
from app.settings import Settings
from app.state import Resources
from app.ttl_store import MemoryTTLStore


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; ``settings`` defaults to the environment (tests pass their own)."""
    settings = settings or Settings()
    resources = _build_resources(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        resources.jobs.start()
        try:
            yield
        finally:
            await resources.jobs.stop()
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
    return app


def _build_resources(settings: Settings) -> Resources:
    engine = create_engine(settings.primary_database_url, settings)
    store = MemoryTTLStore()
    session_factory = create_session_factory(engine)
    return Resources(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        store=store,
        access_tokens=AccessTokens(
            settings.jwt_secret_key.get_secret_value(),
            ttl_seconds=settings.access_token_ttl_seconds,
        ),
        refresh_tokens=RefreshTokens(store, ttl_seconds=settings.refresh_token_ttl_seconds),
        jobs=JobRuntime.for_app(settings, session_factory),
    )
