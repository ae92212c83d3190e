"""Integration tests run against real servers named by TEST_* environment variables.

Unset variables skip these tests with the reason shown by `pytest -ra`; with CI=true
a missing server is a failure instead, so CI can never pass by skipping them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.own_redis import OwnRedis

SERVERS = {
    "TEST_DATABASE_URL": "a PostgreSQL primary, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
    "TEST_DATABASE_READ_URLS": "streaming replicas of TEST_DATABASE_URL (scripts/pg-pair up prints "
    "both), e.g. postgresql+asyncpg://postgres@127.0.0.1:55433/app",
    "TEST_REDIS_URL": "a Redis server, e.g. redis://127.0.0.1:6379/15 (tests may FLUSHDB it)",
    "TEST_BROKER_URL": "a RabbitMQ server, e.g. amqp://guest:guest@127.0.0.1:5672/%2F",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.integration)


def require_server(variable: str) -> str:
    """The URL in ``variable``; skips the test (fails it when CI=true) if it is unset."""
    value = os.environ.get(variable, "").strip()
    if value:
        return value
    reason = f"{variable} is not set: point it at {SERVERS[variable]} to run this test"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return require_server("TEST_DATABASE_URL")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    """A redis-server of the test's own (started), for tests that stop and start Redis."""
    require_server("TEST_REDIS_URL")  # like every test that needs Redis
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
