"""Read-your-writes tokens: only positions this service issued steer reads, and no value a
client sends can turn a read into a 500 (app/db/read_your_writes.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from app.db.read_your_writes import MAX_LSN, READ_AFTER_LSN_HEADER, LsnTokens
from app.db.routing import Replica, ReplicaStatus
from app.resources import Resources
from app.settings import Settings
from tests.conftest import serve

CATALOG = "/api/v1/items"
UNCACHED = {"fields": "id"}  # sparse pages skip the cache: every request routes a read
REPLICA_LSN = 1_000
FORGED = "99999999999999999999"
# Non-ASCII digits ('²'.isdigit() is True, int('²') raises), too long, signs, spaces,
# PostgreSQL's own notation, an unsigned and a truncated token, a NUL.
MALFORMED = [
    "²",
    "1²",
    "٣٣",
    "9" * 21,
    "-1",
    " 1",
    "1 ",
    "0/16B3748",
    FORGED,
    "123.",
    "123.abc",
    "1" * 10_000,
    "12\x00",
]


def test_a_token_carries_its_position_and_nothing_else_verifies() -> None:
    tokens = LsnTokens(b"k" * 32)
    token = tokens.issue(0x16B3748)
    assert tokens.verify(token) == 0x16B3748
    digits, _, signature = token.partition(".")
    assert tokens.verify(f"{int(digits) + 1}.{signature}") is None  # moved forward: refused
    assert tokens.verify(token + "A") is None
    assert LsnTokens(b"other key" * 4).verify(token) is None
    assert tokens.verify(tokens.issue(MAX_LSN + 1)) is None  # beyond pg_lsn's range
    for value in MALFORMED:
        assert tokens.verify(value) is None, value
    assert tokens.newest(tokens.issue(7), tokens.issue(250)) == 250
    assert tokens.newest("garbage", tokens.issue(7)) == 7
    assert tokens.newest(None, None) is None


@pytest.fixture
async def with_replica(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with one (SQLite) replica at REPLICA_LSN, whose checks are counted."""
    async with serve(settings) as (application, client):
        resources: Resources = application.state.resources
        router = resources.read_router
        router.replicas.append(
            Replica("replica-0", resources.engine, async_sessionmaker(resources.engine))
        )
        router.status_ttl_seconds = 3600.0
        application.state.replica_checks = 0

        async def probe(_engine: AsyncEngine) -> ReplicaStatus:
            application.state.replica_checks += 1
            return ReplicaStatus(replay_lsn=REPLICA_LSN, lag_seconds=0.0)

        router._probe = probe
        yield application, client


def _routed(target: str) -> float:
    samples = [
        REGISTRY.get_sample_value("db_read_routing_total", {"target": target, "reason": reason})
        for reason in ("healthy", "caught_up", "behind_client", "lagging", "down")
    ]
    return sum(sample or 0.0 for sample in samples)


async def test_a_forged_position_neither_forces_primary_reads_nor_rechecks_replicas(
    with_replica: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    application, client = with_replica
    primary_before, replica_before = _routed("primary"), _routed("replica")
    for _ in range(50):
        by_header = await client.get(
            CATALOG, params=UNCACHED, headers={READ_AFTER_LSN_HEADER: FORGED}
        )
        assert by_header.status_code == 200, by_header.text
        client.cookies.set("read_after_lsn", FORGED)
        assert (await client.get(CATALOG, params=UNCACHED)).status_code == 200
        client.cookies.clear()
    # 100 reads: all on the replica, which was measured once (its status is trusted an hour).
    assert (_routed("primary") - primary_before, _routed("replica") - replica_before) == (0, 100)
    assert application.state.replica_checks == 1


async def test_a_position_the_service_issued_still_waits_for_the_replica(
    with_replica: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    application, client = with_replica
    resources: Resources = application.state.resources
    ahead = resources.lsn_tokens.issue(REPLICA_LSN + 1)
    primary_before = _routed("primary")
    response = await client.get(CATALOG, params=UNCACHED, headers={READ_AFTER_LSN_HEADER: ahead})
    assert response.status_code == 200
    assert _routed("primary") - primary_before == 1  # the replica has not replayed it


def _as_sent(value: str) -> bytes:
    """Header bytes the server decodes (as Latin-1) back into ``value``: b"\xb2" is '²'."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode()


@pytest.mark.parametrize("value", MALFORMED, ids=repr)
async def test_a_malformed_position_is_ignored_never_a_500(
    with_replica: tuple[FastAPI, httpx.AsyncClient], value: str
) -> None:
    _, client = with_replica
    replica_before = _routed("replica")
    raw = _as_sent(value)
    for header in [(b"x-read-after-lsn", raw), (b"cookie", b"read_after_lsn=" + raw)]:
        response = await client.get(CATALOG, params=UNCACHED, headers=[header])
        assert response.status_code == 200, response.text
    assert _routed("replica") - replica_before == 2
