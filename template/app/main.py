"""The application factory: one FastAPI app wired from one Settings object."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import about
from app.api import api_router, bench_twins, health, landing, static_files
from app.api.redacted_errors import redacted_validation_errors
from app.api.slash_redirects import redirect_slashes_relatively
from app.auth.passwords import PasswordHashing
from app.auth.refresh_tokens import RefreshTokens
from app.auth.revocations import RevokedFamilies
from app.auth.tokens import AccessTokens
from app.cache import Cache
from app.db.engine import create_engine
from app.db.read_your_writes import LsnTokens
from app.db.routing import ReadRouter
from app.db.schema import SchemaCheck
from app.db.session import create_session_factory
from app.http.middleware import add_http_middleware
from app.http.precompressed import BodyEncodings
from app.jobs.runtime import JobRuntime
from app.lifecycle import Lifecycle
from app.near_cache import InvalidationListener, NearCache
from app.observability import metrics
from app.observability.logging import configure_logging
from app.observability.tracing import configure_tracing, fastapi_telemetry
from app.resources import Resources
from app.settings import Settings
from app.stores import TTLStore, create_store
from app.stores.redis import RedisTTLStore


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; ``settings`` defaults to the environment (tests pass their own)."""
    settings = settings or Settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    resources = _build_resources(settings)
    tracing = configure_tracing(
        settings,
        [resources.engine, *(replica.engine for replica in resources.read_router.replicas)],
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        resources.jobs.start()
        resources.cache.start()
        try:
            yield
        finally:
            await resources.cache.stop()
            await resources.jobs.stop()
            await resources.store.close()
            await resources.read_router.dispose()
            await resources.engine.dispose()
            if tracing is not None:
                tracing.shutdown()

    app = FastAPI(
        title=about.NAME,
        description=about.DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
        telemetry=fastapi_telemetry(tracing),
        # Off in production unless API_DOCS_ENABLED: the API's map is not published.
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url="/redoc" if settings.docs_enabled else None,
    )
    app.state.resources = resources
    app.add_exception_handler(RequestValidationError, redacted_validation_errors)
    app.state.tracing = tracing
    app.include_router(health.router)
    app.include_router(api_router)
    app.include_router(landing.router)
    app.include_router(static_files.router)
    if settings.bench_twins:  # the untuned twins `make bench` compares with (never production)
        app.include_router(bench_twins.router)
    redirect_slashes_relatively(app.router)
    # Serving and observability: drain flag, middleware stack, /metrics, pool gauges.
    app.state.lifecycle = Lifecycle()
    add_http_middleware(app, settings)
    if settings.metrics_on_public_port:  # else only on METRICS_PORT (observability/metrics.py)
        app.include_router(metrics.router)
    metrics.DATABASE_POOLS.track("primary", resources.engine)
    for replica in resources.read_router.replicas:  # labelled as routing names them
        metrics.DATABASE_POOLS.track(replica.name, replica.engine)
    return app


def _build_resources(settings: Settings) -> Resources:
    engine = create_engine(settings.primary_database_url, settings)
    session_factory = create_session_factory(engine)
    store = create_store(settings)
    revoked_families = RevokedFamilies(
        store,
        # As long as the family's last access token can be accepted.
        marker_ttl_seconds=settings.access_token_ttl_seconds + settings.jwt_leeway_seconds,
        cache_seconds=settings.access_token_revocation_cache_seconds,
    )
    return Resources(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        store=store,
        access_tokens=AccessTokens(
            settings.jwt_secret_key.get_secret_value(),
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            ttl_seconds=settings.access_token_ttl_seconds,
            leeway_seconds=settings.jwt_leeway_seconds,
        ),
        refresh_tokens=RefreshTokens(
            store,
            ttl_seconds=settings.refresh_token_ttl_seconds,
            reuse_grace_seconds=settings.refresh_token_reuse_grace_seconds,
            revoked_families=revoked_families,
        ),
        revoked_families=revoked_families,
        passwords=PasswordHashing(
            concurrency=settings.password_hashing_concurrency,
            wait_seconds=settings.password_hashing_wait_seconds,
        ),
        static_assets=static_files.StaticAssets(url_prefix=settings.static_url),
        cache=_build_cache(settings, store),
        jobs=JobRuntime.for_app(settings, session_factory),
        schema=SchemaCheck(engine, ttl_seconds=settings.readiness_schema_check_ttl_seconds),
        read_router=_build_read_router(settings, session_factory),
        body_encodings=BodyEncodings(settings.compression_minimum_size_bytes),
        public_cache_control=(
            f"public, max-age={settings.public_max_age_seconds}, "
            f"s-maxage={settings.cdn_s_maxage_seconds}"
        ).encode(),
        lsn_tokens=LsnTokens(settings.jwt_secret_key.get_secret_value().encode()),
    )


def write_fence_seconds(settings: Settings) -> float:
    """How long after a write a replica may still serve the old row: its allowed lag plus
    the age of that measurement (app/db/routing.py). No replicas, no lag: no fences."""
    if not settings.database_read_urls:
        return 0.0
    return settings.database_replica_max_lag_seconds + settings.database_replica_status_ttl_seconds


def _build_cache(settings: Settings, store: TTLStore) -> Cache:
    near, invalidations = None, None
    # The in-process store needs no copy in front of it; Redis gets one when enabled.
    if isinstance(store, RedisTTLStore) and settings.near_cache_ttl_seconds > 0:
        near = NearCache(
            ttl_seconds=settings.near_cache_ttl_seconds,
            max_entries=settings.near_cache_max_entries,
            max_bytes=settings.near_cache_max_bytes,
        )
        invalidations = InvalidationListener(store.client, near)
    return Cache(
        store,
        ttl_seconds=settings.cache_ttl_seconds,
        jitter_ratio=settings.cache_ttl_jitter_ratio,
        lock_timeout_ms=settings.cache_lock_timeout_ms,
        circuit_open_seconds=settings.cache_circuit_open_seconds,
        write_fence_seconds=write_fence_seconds(settings),
        fill_budget_bytes=settings.cache_fill_budget_bytes,
        near=near,
        invalidations=invalidations,
    )


def _build_read_router(settings: Settings, primary: async_sessionmaker[AsyncSession]) -> ReadRouter:
    replicas = [create_engine(url, settings) for url in settings.read_replica_urls]
    return ReadRouter(
        primary,
        [(replica, async_sessionmaker(replica, expire_on_commit=False)) for replica in replicas],
        max_lag_seconds=settings.database_replica_max_lag_seconds,
        status_ttl_seconds=settings.database_replica_status_ttl_seconds,
        down_backoff_seconds=settings.database_replica_down_backoff_seconds,
        probe_timeout_seconds=settings.database_connect_timeout_seconds,
    )
