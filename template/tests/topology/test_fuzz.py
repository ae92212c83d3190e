"""Schemathesis against the running topology: HAProxy, two instances on PostgreSQL with a
replica, Redis and RabbitMQ, in production settings; several workers and the stateful
phase, so concurrent writes of one item reach two instances and both databases.

The topology serves no /openapi.json (production), so the document comes from the code;
``make test-faults`` runs this after the fault run. It also checks what production
exposes: /metrics only on the instances' metrics ports, and no API documentation.
"""

from __future__ import annotations

import os
import time

import httpx
import pytest
import schemathesis

from app.main import create_app
from app.settings import Settings
from tests.test_security_fuzz import (
    bearer_token,
    fuzz_config,
    report_and_check,
    run_engine,
    with_unstatable_rules,
)
from tests.topology.state import running_topology

pytestmark = pytest.mark.topology

MAX_EXAMPLES = 30  # per operation and phase: 1,000+ requests through HAProxy
FUZZ_WORKERS = 4
LOGIN_PATIENCE_SECONDS = 90.0  # the topology's login rate limit (the fault run logs in too)


def _token(base_url: str) -> str:
    """Log in through HAProxy, waiting out the login rate limit if earlier runs used it."""
    deadline = time.monotonic() + LOGIN_PATIENCE_SECONDS
    with httpx.Client(timeout=15) as client:
        while True:
            try:
                return bearer_token(client, base_url)
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(5)


def test_schemathesis_through_haproxy_finds_no_5xx(capsys: pytest.CaptureFixture[str]) -> None:
    if not os.environ.get("TOPOLOGY_REQUIRED"):
        pytest.skip("the topology fuzz only runs when asked for: `make test-faults`")
    topology = running_topology()
    document = create_app(Settings(_env_file=None)).openapi()
    config = fuzz_config(
        _token(topology.base_url),
        max_examples=MAX_EXAMPLES,
        workers=FUZZ_WORKERS,
        base_url=topology.base_url,
    )
    schema = with_unstatable_rules(schemathesis.openapi.from_dict(document, config=config))
    report = run_engine(schema)
    report_and_check(report, capsys)
    assert report.stateful_links >= 5
    assert report.total >= 1000, report.summary()


def test_production_exposes_neither_metrics_nor_docs_through_haproxy() -> None:
    if not os.environ.get("TOPOLOGY_REQUIRED"):
        pytest.skip("runs with the topology tests: `make test-faults`")
    topology = running_topology()
    for path in ("/metrics", "/docs", "/redoc", "/openapi.json"):
        assert httpx.get(topology.base_url + path).status_code == 404, path
    for url in topology.metrics_urls:
        assert "http_requests_total" in httpx.get(url).text
    foreign = httpx.get(f"{topology.base_url}/api/v1/items", headers={"Host": "evil.example"})
    assert foreign.status_code == 400
