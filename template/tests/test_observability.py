"""Practice 6 (monitoring): /metrics, JSON logs with request ids, on-demand profiling."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from app.observability.request_context import request_id_var
from app.settings import Settings
from tests.conftest import serve

ADMIN_TOKEN = "admin-token-for-tests-0123456789abcdef"


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in metrics.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match[1].split(","))) == wanted:
            return float(match[2])
    return 0.0


async def test_metrics_count_requests_per_route_template_and_status(
    client: httpx.AsyncClient,
) -> None:
    before = (await client.get("/metrics")).text
    for item_id in (101, 102, 103):
        assert (await client.get(f"/api/v1/items/{item_id}")).status_code == 404
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    labels = {"method": "GET", "route": "/api/v1/items/{item_id}", "status": "404"}
    after = response.text
    assert (
        sample(after, "http_requests_total", **labels)
        - sample(before, "http_requests_total", **labels)
        == 3
    )
    assert "/api/v1/items/101" not in after, "raw paths would make unbounded series"
    assert (
        sample(
            after,
            "http_request_duration_seconds_count",
            method="GET",
            route="/api/v1/items/{item_id}",
        )
        >= 3
    )
    assert "http_requests_in_progress " in after


async def test_unmatched_paths_share_one_label(client: httpx.AsyncClient) -> None:
    await client.get("/no/such/path/4711")
    metrics = (await client.get("/metrics")).text
    # The raw path never becomes a label value (unbounded cardinality).
    assert "/no/such/path" not in metrics
    assert (
        sample(metrics, "http_requests_total", method="GET", route="<unmatched>", status="404") >= 1
    )


async def test_metrics_show_database_pool_usage(client: httpx.AsyncClient) -> None:
    await client.get("/readyz")
    metrics = (await client.get("/metrics")).text
    assert 'db_pool_checked_out_connections{pool="primary"}' in metrics
    assert sample(metrics, "db_pool_size_connections", pool="primary") >= 1


async def test_the_request_id_is_echoed_and_generated_when_missing_or_invalid(
    client: httpx.AsyncClient,
) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"

    generated = await client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])

    hostile = await client.get("/healthz", headers={"X-Request-ID": 'x" injected=1 ' + "a" * 200})
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["x-request-id"])
    assert request_id_var.get() is None, "the id must not leak out of its request"


async def test_each_request_logs_one_json_line_with_its_request_id(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    await client.get("/api/v1/items/7", headers={"X-Request-ID": "req-42"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    access = [line for line in lines if line.get("event") == "request"]
    assert len(access) == 1
    assert access[0]["request_id"] == "req-42"
    assert access[0]["method"] == "GET"
    assert access[0]["route"] == "/api/v1/items/{item_id}"
    assert access[0]["status"] == 404
    assert isinstance(access[0]["duration_ms"], float)
    assert access[0]["level"] == "info"


@pytest.fixture
async def profiling_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    profiling = settings.model_copy(
        update={"profiling_enabled": True, "admin_token": SecretStr(ADMIN_TOKEN)}
    )
    async with serve(profiling, base_url="http://t") as (_, client):
        yield client


async def test_an_admin_can_profile_one_request(profiling_client: httpx.AsyncClient) -> None:
    response = await profiling_client.get(
        "/api/v1/items?profile=1", headers={"X-Admin-Token": ADMIN_TOKEN}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "pyinstrument" in response.text.lower()


@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_profiling_is_ignored_without_the_admin_token(
    profiling_client: httpx.AsyncClient, token: str | None
) -> None:
    headers = {"X-Admin-Token": token} if token else {}
    response = await profiling_client.get("/api/v1/items?profile=1", headers=headers)
    assert response.headers["content-type"] == "application/json"
    assert "items" in response.json()


async def test_profiling_is_off_by_default_even_with_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/items?profile=1", headers={"X-Admin-Token": ""})
    assert response.headers["content-type"] == "application/json"
