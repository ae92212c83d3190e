"""Practice 7 (code efficiency): the bench/ scenarios and their load generator run."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from fastapi import FastAPI

from app.settings import Settings
from bench import run, seed
from bench.scenarios import SCENARIOS, by_name


async def test_the_builtin_generator_runs_scenarios_against_the_app(
    settings: Settings, app: FastAPI, client: httpx.AsyncClient
) -> None:
    assert await seed.seed(settings, items=60, batch_size=25) == 60
    values = await run.prepare(client, depth=40)
    assert values["deep_offset"] == "40"
    assert values["deep_cursor"]

    transport = httpx.ASGITransport(app=app)
    results = [
        await run.run_builtin(
            scenario,
            "http://127.0.0.1",
            values,
            duration_seconds=0.5,
            connections=4,
            max_requests=200,
            transport=transport,
        )
        for scenario in by_name(["item-read-uncached", "list-keyset-deep", "write-with-job"])
    ]

    for result in results:
        assert result.requests > 0, result
        assert result.requests <= 200
        assert result.errors == 0, result
        assert result.bytes_per_request > 0
        assert result.p99_ms >= result.p50_ms > 0
    assert set(dataclasses.asdict(results[0])) == {
        "name", "engine", "requests", "seconds", "requests_per_second",
        "p50_ms", "p99_ms", "errors", "bytes_per_request", "twin",
    }  # fmt: skip
    assert "list-keyset-deep" in run.table(results, [s for s in SCENARIOS if s.missing])


@pytest.mark.parametrize(
    "base_url", ["http://example.com:8000", "http://10.0.0.5", "ftp://127.0.0.1", "http://"]
)
def test_only_this_machine_is_a_target(base_url: str) -> None:
    with pytest.raises(ValueError, match="only targets"):
        run.check_local(base_url)
    with pytest.raises(SystemExit):
        run.main(["--base-url", base_url, "--duration", "1"])


def test_runs_are_bounded() -> None:
    for argv in (["--duration", "0"], ["--duration", "3600"], ["--connections", "100000"]):
        with pytest.raises(SystemExit):
            run.main(argv)


def test_every_tuned_scenario_has_a_declared_twin_and_skips_say_why() -> None:
    names = {scenario.name for scenario in SCENARIOS}
    for scenario in SCENARIOS:
        assert scenario.twin is None or scenario.twin in names
        assert scenario.missing is None or len(scenario.missing) > 20
    assert {"ceiling", "item-read-cached", "list-keyset-deep", "write-with-job"} <= names


def test_the_wrk_script_sets_method_headers_body_and_a_count_bound() -> None:
    (write,) = by_name(["write-with-job"])
    script = run.wrk_script(write, {"token": "abc"}, max_per_thread=10)
    assert "wrk.method = [==[POST]==]" in script
    assert "Bearer abc" in script
    assert "[[" not in script, "'[[' opens a Lua long string: the header line would not parse"
    assert "wrk.thread:stop()" in script
    assert "WRK_JSON" in script
