"""`python -m app.db.migrate` on SQLite, and /readyz against the schema's revision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio.to_thread
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.schema import Migrations, SchemaState, compare, shipped_migrations
from app.settings import Settings
from tests.conftest import SERVICE_ROOT, migrate, serve


def run_migrate(database_url: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "LOG_"))},
        "DATABASE_URL": database_url,
        "LOG_JSON": "true",
    }
    return subprocess.run(
        [sys.executable, "-m", "app.db.migrate"],
        cwd=SERVICE_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def revisions(database: Path) -> set[str]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{database}")
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
        found = {row[0] for row in rows}
    await engine.dispose()
    return found


def log_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


async def test_migrate_upgrades_an_empty_database_to_head_and_is_idempotent(
    tmp_path: Path,
) -> None:
    database = tmp_path / "fresh.db"
    first = run_migrate(f"sqlite+aiosqlite:///{database}")
    assert first.returncode == 0, first.stdout + first.stderr
    assert await revisions(database) == set(shipped_migrations().heads)
    assert any("migrated from" in str(line["event"]) for line in log_lines(first.stdout))

    again = run_migrate(f"sqlite+aiosqlite:///{database}")
    assert again.returncode == 0, again.stdout + again.stderr
    assert any("already at head" in str(line["event"]) for line in log_lines(again.stdout))


def test_migrate_fails_with_one_clear_line_and_a_non_zero_exit() -> None:
    result = run_migrate("sqlite+aiosqlite:////nonexistent-directory/app.db")
    assert result.returncode != 0
    errors = [line for line in log_lines(result.stdout) if line["level"] == "error"]
    assert len(errors) == 1, result.stdout + result.stderr
    assert str(errors[0]["event"]).startswith("migration failed: OperationalError: ")


MIGRATIONS = Migrations(heads=frozenset({"0002"}), known=frozenset({"0001", "0002"}))


def test_schema_compare_places_the_database_against_the_code() -> None:
    assert compare(frozenset({"0002"}), MIGRATIONS).state is SchemaState.AT_HEAD
    behind = compare(frozenset({"0001"}), MIGRATIONS)
    assert (behind.state, behind.ready) == (SchemaState.BEHIND, False)
    assert "0001" in behind.detail
    assert "0002" in behind.detail
    empty = compare(frozenset(), MIGRATIONS)
    assert (empty.state, empty.ready) == (SchemaState.BEHIND, False)
    ahead = compare(frozenset({"0003"}), MIGRATIONS)
    assert (ahead.state, ahead.ready) == (SchemaState.AHEAD, True)
    assert "newer than this code" in ahead.detail


def test_the_code_head_is_the_latest_migration() -> None:
    shipped = shipped_migrations()
    assert len(shipped.heads) == 1
    assert shipped.heads <= shipped.known


async def test_readyz_is_503_while_the_schema_is_behind_then_ready_once_migrated(
    settings: Settings, tmp_path: Path
) -> None:
    database = tmp_path / "behind.db"
    url = f"sqlite+aiosqlite:///{database}"
    await anyio.to_thread.run_sync(migrate, url, "0001")  # env.py runs its own event loop
    behind = settings.model_copy(update={"database_url": url})
    async with serve(behind) as (_, client):
        response = await client.get("/readyz")
        assert response.status_code == 503, response.text
        schema = response.json()["checks"]["schema"]
        assert schema["status"] == "failing"
        assert "behind" in schema["detail"]
        assert response.json()["checks"]["database"]["status"] == "ok"

        await anyio.to_thread.run_sync(
            migrate, url
        )  # a "behind" result is never cached: the next poll sees head
        assert (await client.get("/readyz")).status_code == 200


async def test_readyz_stays_ready_when_a_newer_deploy_already_migrated(
    settings: Settings,
) -> None:
    async with serve(settings) as (application, client):
        assert (await client.get("/readyz")).status_code == 200
        async with application.state.resources.engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
        fresh = settings.model_copy(update={"readiness_schema_check_ttl_seconds": 0})
    async with serve(fresh) as (_, client):
        response: httpx.Response = await client.get("/readyz")
        assert response.status_code == 200, response.text
        schema = response.json()["checks"]["schema"]
        assert schema["status"] == "ok"
        assert "f00dcafe" in schema["detail"]


async def test_readyz_caches_a_ready_schema(settings: Settings) -> None:
    async with serve(settings) as (application, client):
        assert (await client.get("/readyz")).status_code == 200
        async with application.state.resources.engine.begin() as connection:
            await connection.execute(text("DELETE FROM alembic_version"))
        # Within the TTL the cached "at head" stands: no alembic_version query per poll.
        assert (await client.get("/readyz")).status_code == 200
