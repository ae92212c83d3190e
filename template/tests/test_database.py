"""Practice 1 on the embedded SQLite: sparse fieldsets, column loading, statement budget,
slow-query log and replica routing decisions (with fake replica health, no server)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from app.db.engine import create_engine
from app.db.models import Item, ItemStatus
from app.db.read_your_writes import READ_AFTER_LSN_HEADER
from app.db.routing import ReadRouter, ReplicaStatus, parse_lsn
from app.settings import Settings
from tests.conftest import Login, bearer, recorded_statements, serve

ITEMS = "/api/v1/items"
MY_ITEMS = "/api/v1/me/items"
LIST_STATEMENT_BUDGET = 2


async def _seed(app: FastAPI, owner_id: int, count: int) -> None:
    """``count`` published items of ``owner_id``, inserted in one transaction."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    async with resources_of_app(app).session_factory() as session:
        session.add_all(
            Item(
                owner_id=owner_id,
                name=f"item {n}",
                description="x" * 200,
                status=ItemStatus.PUBLISHED,
                price_cents=n,
                created_at=start + timedelta(seconds=n),
                updated_at=start,
            )
            for n in range(count)
        )
        await session.commit()


def resources_of_app(app: FastAPI) -> Any:
    return app.state.resources


async def _user_with_items(client: httpx.AsyncClient, login: Login, app: FastAPI) -> dict[str, str]:
    tokens = await login("ada@example.com")
    me = await client.get("/api/v1/users/me", headers=bearer(tokens))
    await _seed(app, me.json()["id"], 120)
    return tokens


# --- sparse fieldsets and column loading ------------------------------------------------


async def test_fields_returns_and_selects_only_the_requested_columns(
    client: httpx.AsyncClient, login: Login, app: FastAPI
) -> None:
    tokens = await _user_with_items(client, login, app)
    engine = resources_of_app(app).engine
    with recorded_statements(engine) as statements:
        page = await client.get(ITEMS, params={"fields": "name,price_cents", "limit": 5})
    assert page.status_code == 200, page.text
    body = page.json()
    assert [set(item) for item in body["items"]] == [{"id", "name", "price_cents"}] * 5
    assert body["next_cursor"] is not None
    (select,) = statements
    selected = select.split(" FROM ")[0]
    assert "items.name" in selected
    assert "items.price_cents" in selected
    assert "items.description" not in selected
    assert "items.updated_at" not in selected

    # The next page follows the cursor the sparse page handed out.
    following = await client.get(
        ITEMS, params={"fields": "name", "limit": 5, "cursor": body["next_cursor"]}
    )
    assert following.json()["items"][0]["id"] < body["items"][-1]["id"]

    mine = await client.get(MY_ITEMS, params={"fields": "status"}, headers=bearer(tokens))
    assert set(mine.json()["items"][0]) == {"id", "status"}

    item_id = body["items"][0]["id"]
    full = (await client.get(f"{ITEMS}/{item_id}")).json()
    with recorded_statements(engine) as statements:
        sparse = await client.get(f"{ITEMS}/{item_id}", params={"fields": "created_at"})
    assert sparse.json() == {"id": item_id, "created_at": full["created_at"]}
    assert "items.description" not in statements[0].split(" FROM ")[0]


async def test_list_without_fields_returns_every_field(
    client: httpx.AsyncClient, login: Login, app: FastAPI
) -> None:
    await _user_with_items(client, login, app)
    item = (await client.get(ITEMS, params={"limit": 1})).json()["items"][0]
    assert set(item) == {
        "id",
        "owner_id",
        "name",
        "description",
        "status",
        "price_cents",
        "created_at",
        "updated_at",
    }


@pytest.mark.parametrize("url", [ITEMS, f"{ITEMS}/1", MY_ITEMS])
async def test_unknown_fields_are_rejected_naming_the_allowed_ones(
    client: httpx.AsyncClient, login: Login, url: str
) -> None:
    tokens = await login("ada@example.com")
    response = await client.get(url, params={"fields": "name,secret"}, headers=bearer(tokens))
    assert response.status_code == 422
    [error] = response.json()["detail"]  # shaped like every other validation error
    assert error["loc"] == ["query", "fields"]
    detail = error["msg"]
    assert "secret" in detail
    assert "allowed fields: id, owner_id, name, description, status" in detail


# --- no N+1: statements per request ------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 20, 100])
async def test_list_endpoints_stay_within_the_statement_budget(
    client: httpx.AsyncClient, login: Login, app: FastAPI, limit: int
) -> None:
    tokens = await _user_with_items(client, login, app)
    engine = resources_of_app(app).engine
    for url in (ITEMS, MY_ITEMS):
        for fields in (None, "name"):
            params: dict[str, Any] = {"limit": limit} | ({"fields": fields} if fields else {})
            with recorded_statements(engine) as statements:
                response = await client.get(url, params=params, headers=bearer(tokens))
            assert response.status_code == 200
            assert len(response.json()["items"]) == limit
            assert len(statements) <= LIST_STATEMENT_BUDGET, (url, limit, statements)


# --- slow-query log -----------------------------------------------------------------------


async def _list_with_threshold(settings: Settings, threshold_ms: float) -> None:
    slow_settings = settings.model_copy(update={"database_slow_query_threshold_ms": threshold_ms})
    async with serve(slow_settings) as (_, client):
        assert (await client.get(ITEMS)).status_code == 200


async def test_slow_statements_are_logged_with_their_duration(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="app.db.slow_queries"):
        await _list_with_threshold(settings, 0.000_001)
    # The request's own statements; the started app's job relay logs its own too.
    records = [
        r
        for r in caplog.records
        if r.name == "app.db.slow_queries" and "FROM items" in r.__dict__["statement"]
    ]
    assert records, "a statement slower than the threshold was not logged"
    record = records[0]
    assert record.__dict__["duration_ms"] >= 0
    assert "slow query" in record.getMessage()


async def test_a_zero_threshold_disables_the_slow_query_log(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="app.db.slow_queries"):
        await _list_with_threshold(settings, 0)
    assert not [r for r in caplog.records if r.name == "app.db.slow_queries"]


async def test_database_errors_never_carry_bound_values(settings: Settings) -> None:
    """A database error's text (logged, in tracebacks) names the statement, not its values:
    emails, password hashes and tokens stay out of logs."""
    engine = create_engine(settings.database_url, settings)
    secret_hash = "$argon2id$v=19$m=65536,t=3,p=4$c2VjcmV0$secret-hash-never-logged"
    insert = text("INSERT INTO users (email, password_hash, created_at) VALUES (:e, :h, :c)")
    values = {"e": "private.person@example.com", "h": secret_hash, "c": "2024-01-01 00:00:00"}
    try:
        async with engine.begin() as connection:
            await connection.execute(insert, values)
        with pytest.raises(IntegrityError) as raised:
            async with engine.begin() as connection:
                await connection.execute(insert, values)  # the email is taken
    finally:
        await engine.dispose()
    message = str(raised.value)
    assert "INSERT INTO users" in message
    assert "private.person@example.com" not in message
    assert "secret-hash-never-logged" not in message


# --- read-your-writes token and routing decisions ----------------------------------------


def test_lsns_parse_and_compare() -> None:
    assert parse_lsn("0/16B3748") == 0x16B3748
    assert parse_lsn("1/0") > parse_lsn("0/FFFFFFFF")


async def test_writes_on_sqlite_hand_out_no_token(client: httpx.AsyncClient, login: Login) -> None:
    tokens = await login("ada@example.com")
    response = await client.post(ITEMS, json={"name": "Lamp"}, headers=bearer(tokens))
    assert response.status_code == 201
    assert READ_AFTER_LSN_HEADER not in response.headers
    assert "read_after_lsn" not in response.cookies


async def test_without_replicas_reads_use_the_primary(app: FastAPI) -> None:
    router: ReadRouter = resources_of_app(app).read_router
    route = await router.route(min_lsn=123)
    assert route.target == "primary"
    assert route.reason == "no_replicas"
    pool_size = REGISTRY.get_sample_value("db_pool_size_connections", {"pool": "primary"})
    assert pool_size is not None
    assert pool_size >= 1


class FakeReplicas:
    """Replica health under the test's control, and a clock it moves by hand."""

    def __init__(self, count: int) -> None:
        self.now = 1000.0
        self.engines = [create_async_engine("sqlite+aiosqlite://") for _ in range(count)]
        self.health: dict[int, ReplicaStatus | Exception] = {
            index: ReplicaStatus(replay_lsn=100, lag_seconds=0.0) for index in range(count)
        }
        self.probes: list[int] = []

    async def probe(self, engine: AsyncEngine) -> ReplicaStatus:
        index = self.engines.index(engine)
        self.probes.append(index)
        health = self.health[index]
        if isinstance(health, Exception):
            raise health
        return health

    def router(self) -> ReadRouter:
        primary = create_async_engine("sqlite+aiosqlite://")
        return ReadRouter(
            async_sessionmaker(primary),
            [(engine, async_sessionmaker(engine)) for engine in self.engines],
            max_lag_seconds=5.0,
            status_ttl_seconds=1.0,
            down_backoff_seconds=10.0,
            probe=self.probe,
            clock=lambda: self.now,
        )


def _count(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


async def test_reads_go_round_robin_to_healthy_replicas() -> None:
    fake = FakeReplicas(2)
    router = fake.router()
    before = _count("db_read_routing_total", target="replica", reason="healthy")
    names = [(await router.route()).replica for _ in range(4)]
    assert [replica.name if replica else None for replica in names] == [
        "replica-0",
        "replica-1",
        "replica-0",
        "replica-1",
    ]
    # Health is measured once per replica and reused within the TTL.
    assert sorted(fake.probes) == [0, 1]
    assert _count("db_read_routing_total", target="replica", reason="healthy") == before + 4


async def test_a_lagging_replica_is_skipped_and_counted() -> None:
    fake = FakeReplicas(2)
    fake.health[0] = ReplicaStatus(replay_lsn=100, lag_seconds=30.0)
    router = fake.router()
    routes = [await router.route() for _ in range(3)]
    assert {route.replica.name for route in routes if route.replica} == {"replica-1"}

    fake.health[1] = ReplicaStatus(replay_lsn=100, lag_seconds=30.0)
    fake.now += 1.5  # past the status TTL: both are measured again
    before = _count("db_replica_fallbacks_total", reason="lagging")
    route = await router.route()
    assert (route.target, route.reason) == ("primary", "lagging")
    assert _count("db_replica_fallbacks_total", reason="lagging") == before + 1


async def test_a_down_replica_backs_off_instead_of_being_retried_every_request() -> None:
    fake = FakeReplicas(1)
    fake.health[0] = ConnectionRefusedError("replica stopped")
    router = fake.router()
    before = _count("db_replica_fallbacks_total", reason="down")
    for _ in range(5):
        route = await router.route()
        assert (route.target, route.reason) == ("primary", "down")
    assert fake.probes == [0], "a down replica was probed again within its backoff"
    assert _count("db_replica_fallbacks_total", reason="down") == before + 5

    fake.health[0] = ReplicaStatus(replay_lsn=100, lag_seconds=0.0)
    fake.now += 11  # the backoff is over: one probe, and the replica is back
    assert (await router.route()).target == "replica"
    assert fake.probes == [0, 0]


async def test_a_read_after_a_write_waits_for_a_replica_that_replayed_it() -> None:
    fake = FakeReplicas(1)
    router = fake.router()
    assert (await router.route(min_lsn=50)).reason == "caught_up"
    assert fake.probes == [0]
    # Cached replay LSN 100 already covers 90: no round trip.
    assert (await router.route(min_lsn=90)).target == "replica"
    assert fake.probes == [0]

    # The client wrote at 150; the replica is still at 100 even after a fresh look.
    before = _count("db_replica_fallbacks_total", reason="behind_client")
    route = await router.route(min_lsn=150)
    assert (route.target, route.reason) == ("primary", "behind_client")
    assert fake.probes == [0, 0]
    assert _count("db_replica_fallbacks_total", reason="behind_client") == before + 1

    fake.health[0] = ReplicaStatus(replay_lsn=200, lag_seconds=0.0)
    assert (await router.route(min_lsn=150)).target == "replica"


async def _fail_to_open_sqlite(settings: Settings) -> None:
    engine = create_engine("sqlite+aiosqlite:////nonexistent-directory/app.db", settings)
    with pytest.raises(OperationalError):
        async with engine.connect():
            pass
    await engine.dispose()


def test_a_failed_sqlite_open_leaves_no_thread_reporting_to_a_closed_loop(
    settings: Settings,
) -> None:
    """aiosqlite's worker thread outlived a failed open and then raised "Event loop is
    closed" in whatever test ran next; the engine now waits for it."""
    thread_errors: list[BaseException | None] = []
    previous_hook = threading.excepthook
    threading.excepthook = lambda args: thread_errors.append(args.exc_value)
    try:
        for _ in range(30):  # the race lost about one time in two before the fix
            asyncio.run(_fail_to_open_sqlite(settings))
        time.sleep(0.2)  # any straggler thread reports by now
    finally:
        threading.excepthook = previous_hook
    assert thread_errors == []
