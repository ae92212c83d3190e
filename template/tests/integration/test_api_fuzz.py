"""Schemathesis at 1,000+ cases against the production stack: PostgreSQL primary and
streaming replica (reads), Redis (cache, refresh tokens, rate-limit counters).

PostgreSQL is where hostile input turns into 500s that SQLite forgives (NUL bytes in
text, integers beyond a column's range), so this is the run that counts. It prints the
number of cases, the statuses seen and the time taken. Runner: tests/test_security_fuzz.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from schemathesis.python import asgi

from app.main import create_app
from tests.integration.conftest import require_server
from tests.integration.postgres_app import fresh_pair, pair_settings
from tests.test_security_fuzz import fuzz, fuzz_settings, report_and_check

DATABASE = "app_it_fuzz"
MAX_EXAMPLES = 30  # per operation and phase, 4 workers, stateful links: 1,000+ requests
MINIMUM_CASES = 1000


@pytest.fixture
def redis_url() -> str:
    """TEST_REDIS_URL, flushed first: a previous run's cached items must not answer for
    rows of this run's fresh database (ids start at 1 again)."""
    url = require_server("TEST_REDIS_URL")
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def stop_lifespans() -> Iterator[None]:
    yield
    asgi.shutdown_lifespans()


def test_schemathesis_1000_cases_no_5xx_no_schema_violation_on_postgresql(
    redis_url: str, stop_lifespans: None, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = pair_settings(fresh_pair(DATABASE), redis_url=redis_url)
    app = create_app(fuzz_settings(settings))
    report = fuzz(app, max_examples=MAX_EXAMPLES)
    report_and_check(report, capsys)
    assert report.total >= MINIMUM_CASES, report.summary()
    assert report.stateful_links >= 5, report.summary()
