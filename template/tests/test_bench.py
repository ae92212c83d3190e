"""Practice 7 (code efficiency): the bench/ scenarios, their twins and the load generator run."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr, ValidationError
from sqlalchemy import select

from app.db.models import Item
from app.settings import Environment, Settings
from bench import run, seed, targets
from bench.ceiling import create_ceiling_app
from bench.results import Result
from bench.scenarios import SCENARIOS, by_name
from tests.conftest import TEST_JWT_SECRET_KEY, bearer, serve


@pytest.fixture
def twin_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"bench_twins": True})


@pytest.fixture
async def twin_served(twin_settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with serve(twin_settings, base_url="http://127.0.0.1") as app_and_client:
        yield app_and_client


@pytest.fixture
def twin_app(twin_served: tuple[FastAPI, httpx.AsyncClient]) -> FastAPI:
    return twin_served[0]


@pytest.fixture
def twin_client(twin_served: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return twin_served[1]


async def test_the_builtin_generator_runs_every_http_scenario_against_the_app(
    twin_settings: Settings, twin_app: FastAPI, twin_client: httpx.AsyncClient
) -> None:
    assert await seed.seed(twin_settings, items=60, batch_size=25) == 60
    values = await run.prepare(twin_client, depth=40)
    assert values["deep_offset"] == "40"
    assert values["deep_cursor"]
    assert values["first_cursor"]
    assert await run.twins_offered(twin_client)

    transport = httpx.ASGITransport(app=twin_app)
    results = [
        await run.run_builtin(
            scenario,
            "http://127.0.0.1",
            values,
            duration_seconds=0.3,
            connections=2,
            max_requests=40,
            transport=transport,
        )
        for scenario in SCENARIOS
        if scenario.kind == "http" and scenario.server == "service"
    ]

    for result in results:
        assert result.requests > 0, result
        assert result.requests <= 40
        assert result.errors == 0, result
        assert result.bytes_per_request > 0
        assert result.p99_ms >= result.p50_ms > 0
    assert set(dataclasses.asdict(results[0])) == {
        "name", "engine", "requests", "seconds", "requests_per_second",
        "p50_ms", "p99_ms", "errors", "bytes_per_request", "twin", "server_cpu_ms",
        "server_rss_mb", "share_of_ceiling",
    }  # fmt: skip
    text = run.table(results, {"page-http2": "needs h2load"})
    assert "list-offset-deep" in text
    assert "page-http2" in text


async def test_the_offset_twin_returns_the_same_page_as_the_keyset_cursor(
    twin_settings: Settings, twin_client: httpx.AsyncClient
) -> None:
    await seed.seed(twin_settings, items=30, batch_size=30)
    first = (await twin_client.get("/api/v1/items", params={"limit": 10})).json()
    keyset = await twin_client.get(
        "/api/v1/items", params={"limit": 10, "cursor": first["next_cursor"]}
    )
    offset = await twin_client.get("/bench/items", params={"limit": 10, "offset": 10})
    assert offset.status_code == 200
    assert [item["id"] for item in offset.json()["items"]] == [
        item["id"] for item in keyset.json()["items"]
    ]
    assert (await twin_client.get("/bench/items", params={"offset": -1})).status_code == 422


async def test_the_inline_twin_does_the_job_work_inside_the_request(
    twin_app: FastAPI, twin_client: httpx.AsyncClient
) -> None:
    credentials = {"email": "inline@example.com", "password": "correct horse battery staple"}
    await twin_client.post("/api/v1/auth/register", json=credentials)
    tokens = (await twin_client.post("/api/v1/auth/login", json=credentials)).json()

    created = await twin_client.post(
        "/bench/items",
        json={"name": "Crème  Brûlée", "status": "published"},
        headers=bearer(tokens),
    )

    assert created.status_code == 201, created.text
    session_factory = twin_app.state.resources.session_factory
    async with session_factory() as session:
        search_text = await session.scalar(
            select(Item.search_text).where(Item.id == created.json()["id"])
        )
    assert search_text == "creme brulee"  # no worker ran: the request did the job's work


async def test_the_page_twin_references_twenty_assets_the_app_serves(
    twin_client: httpx.AsyncClient,
) -> None:
    urls = await run.page_urls(twin_client)
    assert urls[0] == "/bench/page"
    assert len(urls) == 21
    assert len(set(urls)) == 21
    for url in urls[1:]:
        assert (await twin_client.get(url)).status_code == 200, url


async def test_the_twins_are_off_by_default_and_never_in_the_openapi_schema(
    client: httpx.AsyncClient, twin_client: httpx.AsyncClient
) -> None:
    assert not await run.twins_offered(client)
    assert (await client.get("/bench/page")).status_code == 404
    for schema_client in (client, twin_client):
        paths = (await schema_client.get("/openapi.json")).json()["paths"]
        assert not [path for path in paths if path.startswith("/bench")]


def test_production_refuses_the_bench_twins() -> None:
    with pytest.raises(ValidationError, match="BENCH_TWINS=true is refused"):
        Settings(
            _env_file=None,
            environment=Environment.PRODUCTION,
            database_url="postgresql+asyncpg://app@db:5432/app",
            jwt_secret_key=SecretStr(TEST_JWT_SECRET_KEY),
            bench_twins=True,
        )


def test_server_cpu_time_and_peak_memory_are_read_from_proc() -> None:
    before = run.process_cpu_seconds(os.getpid())
    sum(number * number for number in range(300_000))  # burn a little CPU
    assert run.process_cpu_seconds(os.getpid()) > before
    assert 10 < run.peak_rss_mib(os.getpid()) < 4096


def test_the_runner_skips_what_the_servers_lack_and_says_why() -> None:
    (offset,) = by_name(["list-offset-deep"])
    (healthz,) = by_name(["healthz"])
    (ceiling,) = by_name(["hello-ceiling"])
    assert "BENCH_TWINS=true" in (run.skip_reason(offset, twins=False) or "")
    assert run.skip_reason(offset, twins=True) is None
    assert run.skip_reason(healthz, twins=False, ceiling=False) is None
    assert "bench.ceiling" in (run.skip_reason(ceiling, twins=True, ceiling=False) or "")
    assert run.skip_reason(ceiling, twins=True, ceiling=True) is None


async def test_the_ceiling_app_answers_what_healthz_answers_and_nothing_else(
    client: httpx.AsyncClient,
) -> None:
    transport = httpx.ASGITransport(app=create_ceiling_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as bare:
        answer = await bare.get("/healthz")
        assert (await bare.get("/docs")).status_code == 404
    service = await client.get("/healthz")
    assert answer.status_code == service.status_code == 200
    assert answer.content == service.content


def test_every_result_is_reported_as_a_share_of_the_ceiling() -> None:
    def result(name: str, requests_per_second: float) -> Result:
        return Result(name, "wrk", 100, 1.0, requests_per_second, 1.0, 2.0, 0, 10.0)

    shared = run.with_shares([result("hello-ceiling", 2000), result("healthz", 1700)])
    assert [row.share_of_ceiling for row in shared] == [1.0, 0.85]
    alone = run.with_shares([result("healthz", 1700)])
    assert alone[0].share_of_ceiling is None
    assert "ceiling" in run.table(shared, {})


@pytest.mark.parametrize(
    "base_url", ["http://example.com:8000", "http://10.0.0.5", "ftp://127.0.0.1", "http://"]
)
def test_only_this_machine_is_a_target(base_url: str) -> None:
    with pytest.raises(ValueError, match="only targets"):
        run.check_local(base_url)
    with pytest.raises(SystemExit):
        run.main(["--base-url", base_url, "--duration", "1"])


@pytest.mark.parametrize(
    "argv",
    [
        ["--duration", "0"],
        ["--duration", "3600"],
        ["--connections", "100000"],
        ["--browsers", "0"],
        ["--warmup", "-1"],
    ],
)
def test_runs_are_bounded(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        run.main(argv)


def test_every_tuned_scenario_has_a_declared_twin_and_skips_say_why() -> None:
    names = {scenario.name for scenario in SCENARIOS}
    for scenario in SCENARIOS:
        assert scenario.twin is None or scenario.twin in names
        assert scenario.missing is None or len(scenario.missing) > 20
    assert {
        "hello-ceiling", "healthz", "item-read-cached", "list-keyset-deep", "list-offset-deep",
        "write-with-job", "write-inline", "page-http2", "page-http1",
    } <= names  # fmt: skip


def test_the_wrk_script_sets_method_headers_body_and_a_count_bound() -> None:
    (write,) = by_name(["write-with-job"])
    script = run.wrk_script(write, {"token": "abc"}, max_per_thread=10)
    assert "wrk.method = [==[POST]==]" in script
    assert "Bearer abc" in script
    assert "[[" not in script, "'[[' opens a Lua long string: the header line would not parse"
    assert "wrk.thread:stop()" in script
    assert "WRK_JSON" in script


def test_the_wrk_page_script_requests_every_asset_in_turn() -> None:
    (page,) = by_name(["page-http1"])
    script = run.wrk_script(page, {}, max_per_thread=10, paths=["/bench/page", "/static/a.css"])
    assert "[==[/bench/page]==], [==[/static/a.css]==]" in script
    assert "turn % #paths + 1" in script


def test_h2load_is_bounded_in_time_and_loads_the_whole_page_per_connection() -> None:
    urls = ["/bench/page", *(f"/static/app.css?copy={n}" for n in range(20))]
    command = run.h2load_command("http://127.0.0.1:8000", urls, duration_seconds=5, browsers=3)
    assert command[:5] == ["h2load", "-t1", "-c3", "-m21", "-D5"]
    assert command[-1] == "http://127.0.0.1:8000/static/app.css?copy=19"


@dataclasses.dataclass
class Measured:
    requests_per_second: float = 1000.0
    p50_ms: float = 5.0
    p99_ms: float = 10.0
    bytes_per_request: float = 40_000.0
    server_cpu_ms: float | None = None
    server_rss_mb: float | None = None


def test_targets_are_shares_of_the_ceiling_and_pass_miss_or_skip_with_a_reason() -> None:
    results = {
        "hello-ceiling": Measured(requests_per_second=1000, server_cpu_ms=0.2, server_rss_mb=50),
        "healthz": Measured(requests_per_second=900, server_rss_mb=90),  # 90%: a pass
        "item-read-cached": Measured(requests_per_second=650, p99_ms=16.0, server_cpu_ms=0.4),
        "list-keyset-first": Measured(p50_ms=4.0),
        "list-keyset-deep": Measured(p50_ms=5.0),  # 1.25x: a pass
        "list-payload-identity": Measured(bytes_per_request=40_000),
    }
    verdicts = {verdict.name: verdict for verdict in targets.check(results)}
    assert verdicts["healthz-vs-ceiling"].status == "PASS"
    assert verdicts["healthz-vs-ceiling"].ratio == 0.9
    assert verdicts["cached-read-vs-ceiling"].status == "MISS"  # 65%
    assert verdicts["cached-read-vs-ceiling"].ratio == 0.65
    assert "Redis" in verdicts["cached-read-vs-ceiling"].note
    assert verdicts["cached-read-cpu"].status == "MISS"  # 2x the ceiling's CPU
    assert verdicts["cached-read-tail"].status == "MISS"  # p99 = 3.2x p50
    assert verdicts["keyset-deep-vs-ceiling"].status == "PASS"  # 100%
    assert verdicts["keyset-deep-vs-first"].status == "PASS"
    assert verdicts["keyset-deep-vs-first"].note == ""
    assert verdicts["server-rss"].status == "PASS"
    assert verdicts["server-rss"].ratio == 90  # the service's peak, not the ceiling's
    assert verdicts["brotli-vs-identity"].status == "SKIPPED"
    assert verdicts["cached-list-vs-ceiling"].status == "SKIPPED"
