"""The generated service's integration suite, run against real servers.

PostgreSQL primary with a streaming replica (template/scripts/pg-pair), Redis and RabbitMQ are
named by TEST_* variables, exactly as a user of the service sets them. Without them this test
skips with the reason; with CI=true it fails instead, so CI can never pass by skipping it.
"""

import os
import re
from typing import Any

import pytest

from tests.answer_sets import DEFAULTS
from tests.conftest import IN_CI, run, service_env

SERVERS = ("TEST_DATABASE_URL", "TEST_DATABASE_READ_URLS", "TEST_REDIS_URL", "TEST_BROKER_URL")


def test_generated_integration_suite_passes_on_real_servers(
    render_answer_set: Any, report_figures: Any
) -> None:
    missing = [name for name in SERVERS if not os.environ.get(name)]
    if missing:
        reason = (
            f"{', '.join(missing)} not set: run `.ci/run`, or start the servers and export them"
        )
        if IN_CI:
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    service = render_answer_set(DEFAULTS)
    output = run(
        ["make", "test-integration"], cwd=service, env=service_env(CI="true"), timeout=1500
    )
    summaries = re.findall(r"^=+ (.+) in [\d.]+s.* =+$", output, flags=re.MULTILINE)
    assert summaries, f"no pytest summary in the output:\n{output[-3000:]}"
    summary = summaries[-1]
    assert re.search(r"\b\d+ passed\b", summary), summary
    assert "skipped" not in summary, summary
    assert "failed" not in summary, summary
    fuzzing = [
        line[line.index("schemathesis:") :]
        for line in output.splitlines()
        if "schemathesis:" in line
    ]
    report_figures(f"generated integration suite: {summary}", *fuzzing)
