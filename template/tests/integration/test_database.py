"""Practice 1 on the real PostgreSQL primary and its streaming replica.

Uses its own database (app_it_db), created on the primary (it replicates) and
migrated with Alembic, so it never collides with other tests on the same pair.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.db.models import ItemStatus
from app.db.pagination import Cursor, PageRequest
from app.db.read_your_writes import READ_AFTER_LSN_HEADER
from app.db.routing import ReadRouter
from app.repositories import items
from app.settings import Settings
from tests.conftest import (
    PASSWORD,
    SERVICE_ROOT,
    recorded_statements,
    serve,
)
from tests.integration.postgres_app import fresh_pair, pair_settings

DATABASE = "app_it_db"
SEEDED_ITEMS = 20_000
ITEMS = "/api/v1/items"


async def _seed(url: str) -> None:
    """20,000 items (60% published) of 200 owners over a year, then ANALYZE."""
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO users (email, password_hash, created_at) "
                "SELECT 'seed' || n || '@example.com', 'x', now() FROM generate_series(1, 200) n"
            )
        )
        await connection.execute(
            text(
                "INSERT INTO items (owner_id, name, description, status, price_cents, "
                "created_at, updated_at) "
                "SELECT (SELECT min(id) FROM users) + n % 200, 'item ' || n, repeat('x', 200), "
                "CASE WHEN n % 10 < 6 THEN 'published' WHEN n % 10 < 9 THEN 'draft' "
                "ELSE 'archived' END, (n * 7919) % 100000, "
                "now() - n * interval '25 minutes', now() "
                "FROM generate_series(1, :count) n"
            ),
            {"count": SEEDED_ITEMS},
        )
    async with engine.connect() as connection:
        await connection.execute(text("ANALYZE users"))
        await connection.execute(text("ANALYZE items"))
        await connection.commit()
    await engine.dispose()


@pytest.fixture(scope="module")
def pair() -> tuple[str, str]:
    """(primary URL, replica URL) of a fresh, migrated, seeded app_it_db."""
    primary, replica = fresh_pair(DATABASE)
    asyncio.run(_seed(primary))
    return primary, replica


def _settings(pair: tuple[str, str], **overrides: Any) -> Settings:
    """Fast replica checks, so fail-over and recovery show within a test."""
    fast = {
        "database_replica_down_backoff_seconds": 0.5,
        "database_replica_status_ttl_seconds": 0.2,
    }
    return pair_settings(pair, **(fast | overrides))


def _router(application: FastAPI) -> ReadRouter:
    router: ReadRouter = application.state.resources.read_router
    return router


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    body = {"email": email, "password": PASSWORD}
    registered = await client.post("/api/v1/auth/register", json=body)
    assert registered.status_code == 202, registered.text
    response = await client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _count(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


@asynccontextmanager
async def replay_paused(replica_url: str) -> AsyncIterator[None]:
    """Pause WAL replay on the replica (it keeps receiving); always resumed afterwards."""
    engine = create_async_engine(replica_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT pg_wal_replay_pause()"))
            for _ in range(100):
                state = await connection.scalar(text("SELECT pg_get_wal_replay_pause_state()"))
                if state == "paused":
                    break
                await asyncio.sleep(0.05)
        yield
    finally:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT pg_wal_replay_resume()"))
        await engine.dispose()


# --- query plans ----------------------------------------------------------------------------


async def test_no_list_or_detail_query_scans_the_items_table(pair: tuple[str, str]) -> None:
    """EXPLAIN every statement the item repositories send: each one uses an index."""
    primary, _ = pair
    engine = create_async_engine(primary)
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        captured.append((statement, parameters))

    async with engine.connect() as connection:
        owner = await connection.scalar(text("SELECT min(owner_id) + 7 FROM items"))
        item_id = await connection.scalar(text("SELECT min(id) + 4321 FROM items"))
        middle = (
            await connection.execute(
                text(
                    "SELECT created_at, id FROM items ORDER BY created_at DESC OFFSET 9000 LIMIT 1"
                )
            )
        ).one()
    deep = PageRequest(20, Cursor(middle.created_at, middle.id))
    first = PageRequest(20, None)
    published = items.CatalogFilter
    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    async with engine.connect() as connection, AsyncSession(bind=connection) as session:
        for page in (first, deep):
            await items.list_published(session, page, published())
            await items.list_published(session, page, published(owner_id=owner))
            await items.list_published(session, page, published(min_price_cents=99_000))
            await items.list_published(session, page, published(max_price_cents=500))
            await items.list_published(
                session, page, published(min_price_cents=1000, max_price_cents=90_000)
            )
            await items.list_published(session, page, published(), ["name", "price_cents"])
            await items.list_owned(session, owner, page, None)
            await items.list_owned(session, owner, page, ItemStatus.ARCHIVED)
            await items.list_owned(session, owner, page, None, ["name"])
        await items.get_visible_item(session, item_id, None)
        await items.get_visible_item(session, item_id, owner)
        await items.get_visible_item(session, item_id, None, ["name"])
        await items.get_owned_item(session, item_id, owner)
    event.remove(engine.sync_engine, "before_cursor_execute", capture)

    assert len(captured) == 22
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        for statement, parameters in captured:
            plan = "\n".join(row[0] for row in await raw.fetch(f"EXPLAIN {statement}", *parameters))
            print(f"\n{statement}\n{parameters}\n{plan}")  # noqa: T201 - shown with -s
            assert "Seq Scan on items" not in plan, f"{statement}\n{parameters}\n{plan}"
    await engine.dispose()


# --- routing --------------------------------------------------------------------------------


# Sparse (fields=) responses bypass the response cache, so routing tests read the database.
UNCACHED = {"fields": "name,status"}


async def test_reads_use_the_replica_and_writes_the_primary(pair: tuple[str, str]) -> None:
    async with serve(_settings(pair)) as (application, client):
        router = _router(application)
        async with router.session() as session:
            assert await session.scalar(text("SELECT pg_is_in_recovery()")) is True
        headers = await _login(client, "routing@example.com")
        primary_engine = application.state.resources.engine
        replica_engine = router.replicas[0].engine

        with (
            recorded_statements(replica_engine, containing="FROM items") as replica_reads,
            recorded_statements(primary_engine, containing="FROM items") as primary_reads,
        ):
            for _ in range(5):
                assert (await client.get(ITEMS, params=UNCACHED)).status_code == 200
        assert (len(replica_reads), len(primary_reads)) == (5, 0)

        with (
            recorded_statements(replica_engine, containing="INSERT INTO items") as replica_writes,
            recorded_statements(primary_engine, containing="INSERT INTO items") as primary_writes,
        ):
            created = await client.post(ITEMS, json={"name": "Lamp"}, headers=headers)
        assert created.status_code == 201
        assert (len(replica_writes), len(primary_writes)) == (0, 1)
        assert int(created.headers[READ_AFTER_LSN_HEADER].partition(".")[0]) > 0
        assert created.cookies["read_after_lsn"] == created.headers[READ_AFTER_LSN_HEADER]


async def test_a_client_always_reads_its_own_writes(pair: tuple[str, str]) -> None:
    async with serve(_settings(pair)) as (_application, client):
        headers = await _login(client, "ryw@example.com")
        created = await client.post(
            ITEMS, json={"name": "v0", "status": "published"}, headers=headers
        )
        url = f"{ITEMS}/{created.json()['id']}"
        for version in range(1, 51):
            patched = await client.patch(url, json={"name": f"v{version}"}, headers=headers)
            assert patched.status_code == 200
            # The cookie from the write goes back automatically with the read.
            read = await client.get(url)
            assert read.json()["name"] == f"v{version}", f"stale read after write {version}"


async def test_a_replica_behind_the_clients_write_is_not_used(pair: tuple[str, str]) -> None:
    _, replica = pair
    async with serve(_settings(pair)) as (_application, client):
        headers = await _login(client, "behind@example.com")
        created = await client.post(
            ITEMS, json={"name": "old", "status": "published"}, headers=headers
        )
        url = f"{ITEMS}/{created.json()['id']}"
        await _wait_until_replica_sees(client, url, "old")
        async with replay_paused(replica):
            before = _count("db_replica_fallbacks_total", reason="behind_client")
            patched = await client.patch(url, json={"name": "new"}, headers=headers)
            token = patched.headers[READ_AFTER_LSN_HEADER]

            # With the token (cookie), the read goes to the primary and sees the write ...
            assert (await client.get(url, params=UNCACHED)).json()["name"] == "new"
            assert _count("db_replica_fallbacks_total", reason="behind_client") == before + 1
            # ... and the header alone works for clients without a cookie jar.
            client.cookies.clear()
            with_header = await client.get(
                url, params=UNCACHED, headers={READ_AFTER_LSN_HEADER: token}
            )
            assert with_header.json()["name"] == "new"
            # Without it, the read is served by the paused replica: proof it is behind.
            assert (await client.get(url, params=UNCACHED)).json()["name"] == "old"


async def _wait_until_replica_sees(client: httpx.AsyncClient, url: str, name: str) -> None:
    for _ in range(100):
        client.cookies.clear()
        response = await client.get(url, params=UNCACHED)
        if response.status_code == 200 and response.json()["name"] == name:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the replica never replayed the write")


async def test_a_lagging_replica_is_skipped(pair: tuple[str, str]) -> None:
    _, replica = pair
    settings = _settings(pair, database_replica_max_lag_seconds=0.001)
    async with serve(settings) as (application, client):
        headers = await _login(client, "lag@example.com")
        async with replay_paused(replica):
            created = await client.post(
                ITEMS, json={"name": "fresh", "status": "published"}, headers=headers
            )
            await asyncio.sleep(0.3)  # past the status TTL, so the lag is measured again
            client.cookies.clear()
            before = _count("db_replica_fallbacks_total", reason="lagging")
            replica_engine = _router(application).replicas[0].engine
            with recorded_statements(replica_engine, containing="FROM items") as replica_reads:
                read = await client.get(f"{ITEMS}/{created.json()['id']}")
            assert read.status_code == 200
            assert read.json()["name"] == "fresh"
            assert replica_reads == []
            assert _count("db_replica_fallbacks_total", reason="lagging") == before + 1


# --- fault: the replica stops mid-test -------------------------------------------------------


async def _pg_pair(command: str) -> None:
    script = os.environ.get("TEST_PG_PAIR_SCRIPT") or str(SERVICE_ROOT / "scripts" / "pg-pair")
    process = await asyncio.create_subprocess_exec(
        script, command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, f"pg-pair {command} failed:\n{output.decode()}"


async def test_reads_survive_the_replica_stopping(pair: tuple[str, str]) -> None:
    settings = _settings(pair, database_replica_max_lag_seconds=1.0)
    async with serve(settings) as (application, client):
        router = _router(application)
        for _ in range(3):  # warm the replica's pool: its connections die with it
            assert (await client.get(ITEMS)).status_code == 200
        assert (await router.route()).target == "replica"

        before = _count("db_replica_fallbacks_total", reason="down")
        await _pg_pair("stop-replica")
        try:
            for _ in range(20):
                response = await client.get(ITEMS, params={"limit": 5})
                assert response.status_code == 200, response.text
                assert len(response.json()["items"]) == 5
            assert _count("db_replica_fallbacks_total", reason="down") > before
            route = await router.route()
            assert (route.target, route.reason) == ("primary", "down")
        finally:
            await _pg_pair("start-replica")

        # After the backoff the replica is probed again and serves reads once more.
        for _ in range(50):
            await asyncio.sleep(0.2)
            if (await router.route()).target == "replica":
                break
        else:
            raise AssertionError("reads never returned to the restarted replica")
        assert (await client.get(ITEMS)).status_code == 200
        # With no writes, the restarted replica has nothing to replay: it is not lagging,
        # however long the primary stays idle (here: past the lag limit and the status TTL).
        await asyncio.sleep(
            settings.database_replica_max_lag_seconds
            + settings.database_replica_status_ttl_seconds
            + 0.5
        )
        route = await router.route()
        assert (route.target, route.reason) == ("replica", "healthy")


async def test_a_lagging_replica_cannot_put_an_unpublished_item_back_in_the_cache(
    pair: tuple[str, str],
) -> None:
    _, replica = pair
    # A generous allowed lag, so the paused replica keeps serving reads during the test.
    async with serve(_settings(pair, database_replica_max_lag_seconds=30)) as (_app, client):
        headers = await _login(client, "unpublish@example.com")
        created = await client.post(
            ITEMS, json={"name": "public", "status": "published"}, headers=headers
        )
        url = f"{ITEMS}/{created.json()['id']}"
        await _wait_until_replica_sees(client, url, "public")
        assert (await client.get(url)).status_code == 200  # cached while public
        async with replay_paused(replica):
            unpublished = await client.patch(url, json={"status": "draft"}, headers=headers)
            assert unpublished.status_code == 200
            client.cookies.clear()  # an anonymous reader, without the writer's token
            # The replica has not replayed the unpublish: this read still sees it public ...
            assert (await client.get(url)).status_code == 200
        # ... but did not put it back in the cache: once replayed, it is gone for everyone.
        for _ in range(100):
            if (await client.get(url)).status_code == 404:
                break
            await asyncio.sleep(0.05)
        assert (await client.get(url)).status_code == 404
