"""Integration tests run against real servers named by TEST_* environment variables.

Unset variables skip these tests with the reason shown by `pytest -ra`; with CI=true
a missing server is a failure instead, so CI can never pass by skipping them.
"""

from __future__ import annotations

import os

import pytest

SERVERS = {
    "TEST_DATABASE_URL": "a PostgreSQL primary, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
    "TEST_REDIS_URL": "a Redis database the tests may FLUSHDB, e.g. redis://127.0.0.1:6379/15",
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
