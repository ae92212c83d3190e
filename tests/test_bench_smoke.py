"""`make bench BENCH_SMOKE=1` keeps the benchmark working: every scenario runs, none errs.

Benchmarks are not tests, so no number is asserted here: the smoke renders a service,
starts its servers, loads every scenario for a second and tears everything down. It
needs wrk, h2load, redis-server and PostgreSQL's binaries; without them it skips with
the reason, and with CI=true it fails instead, so CI cannot pass by skipping it.
"""

import importlib.util
import json
import shutil
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.conftest import IN_CI, TEMPLATE_ROOT, service_env

TOOLS = ("wrk", "h2load", "redis-server", "pg_ctl")
RESULTS = TEMPLATE_ROOT / "build" / "bench" / "results.json"
PUBLISHED = [
    TEMPLATE_ROOT / "docs" / "assets" / name
    for name in ("benchmarks.json", "benchmarks.png", "benchmarks-table.md")
]


def scenario_names() -> set[str]:
    """The scenarios the generated service declares (template/bench/scenarios.py)."""
    spec = importlib.util.spec_from_file_location(
        "tenfold_bench_scenarios", TEMPLATE_ROOT / "template" / "bench" / "scenarios.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return {scenario.name for scenario in module.SCENARIOS}


@pytest.mark.xdist_group("servers")
def test_bench_smoke_runs_every_scenario_without_errors(report_figures: Any) -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        reason = f"{', '.join(missing)} not installed (apt-get install wrk nghttp2-client redis-server postgresql)"
        if IN_CI:
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    published_before = {path: path.stat().st_mtime_ns for path in PUBLISHED if path.exists()}
    RESULTS.unlink(missing_ok=True)

    started = time.monotonic()
    result = subprocess.run(
        ["make", "bench", "BENCH_SMOKE=1"],
        cwd=TEMPLATE_ROOT,
        env=service_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]

    report = json.loads(RESULTS.read_text())
    assert report["run"]["profile"] == "smoke"
    assert report["skipped"] == {}, report["skipped"]
    results = {row["name"]: row for row in report["results"]}
    assert set(results) == scenario_names()
    for name, row in results.items():
        assert row["requests"] > 0, (name, row)
        assert row["errors"] == 0, (name, row)
    assert {target["status"] for target in report["targets"]} <= {"PASS", "MISS"}
    for name in ("benchmarks.png", "benchmarks-table.md"):
        assert (RESULTS.parent / name).stat().st_size > 0
    # The smoke writes build/ only: the published full-run results stay as they were.
    assert {path: path.stat().st_mtime_ns for path in PUBLISHED if path.exists()} == (
        published_before
    )
    report_figures(
        f"bench smoke took {elapsed:.0f} s",
        *(
            f"{name}: {row['requests']} requests, {row['errors']} errors"
            for name, row in results.items()
        ),
    )
