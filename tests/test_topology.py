"""The generated service's production-like topology: host checks and the fault run pass.

Renders the default answers, `make topology-up` (HAProxy, two instances, a worker, a
PostgreSQL primary + replica, its own Redis and RabbitMQ node, all on spare ports), then
`make test-host` and `make test-faults`, and always `make topology-down`. Skips with the
reason when a server binary is missing; with CI=true it fails instead.
"""

import glob
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.answer_sets import DEFAULTS
from tests.conftest import IN_CI, render, run, service_env

BINARIES = {
    "haproxy": "apt-get install haproxy",
    "redis-server": "apt-get install redis-server",
    "socat": "apt-get install socat",
    "/usr/lib/rabbitmq/bin/rabbitmq-server": "apt-get install rabbitmq-server",
    "/usr/lib/postgresql/*/bin/initdb": "apt-get install postgresql",
}
# A Python the topology's non-root user can run (pyenv's under /root is not).
PYTHONS = ("/usr/bin/python3.11", "/usr/bin/python3")


def _missing_binaries() -> list[str]:
    return [
        f"{name} ({install})"
        for name, install in BINARIES.items()
        if not (glob.glob(name) if name.startswith("/") else shutil.which(name))
    ]


def _world_runnable(path: str) -> bool:
    """Every directory up to ``path`` is searchable by others, and ``path`` is executable."""
    real = Path(path).resolve()
    if not real.is_file():
        return False
    return all(part.stat().st_mode & stat.S_IXOTH for part in [real, *real.parents])


def _summary(output: str) -> str:
    summaries = re.findall(r"^=+ (.+) in [\d.]+s.* =+$", output, flags=re.MULTILINE)
    assert summaries, f"no pytest summary in the output:\n{output[-3000:]}"
    return summaries[-1]


def _assert_passed(output: str) -> str:
    summary = _summary(output)
    assert re.search(r"\b\d+ passed\b", summary), summary
    assert "skipped" not in summary, summary
    assert "failed" not in summary, summary
    assert "error" not in summary, summary
    return summary


@pytest.mark.xdist_group("servers")
def test_topology_passes_host_checks_and_the_fault_run(report_figures: Any) -> None:
    missing = _missing_binaries()
    python = next((path for path in PYTHONS if _world_runnable(path)), None)
    if python is None:
        missing.append(f"a Python 3.11 others can run ({' or '.join(PYTHONS)})")
    if missing:
        reason = f"the topology needs {', '.join(missing)}"
        if IN_CI:
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)

    # Not under pytest's 0700 tmp dirs: the topology's non-root user must read the service.
    base = Path(tempfile.mkdtemp(prefix="tenfold-topology-", dir="/tmp"))
    base.chmod(0o755)
    service = render(base / "service", DEFAULTS.answers)
    env = service_env(UV_PYTHON=python, TOPOLOGY_DIR=str(base / "topology"), CI="true")
    try:
        up = run(["make", "topology-up"], cwd=service, env=env, timeout=600)
        print(up[-1500:])
        host = run(["make", "test-host"], cwd=service, env=env, timeout=300)
        faults = run(["make", "test-faults"], cwd=service, env=env, timeout=600)
    finally:
        down = subprocess.run(
            ["make", "topology-down"],
            cwd=service,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not (base / "topology").exists()

    figures = [line for line in faults.splitlines() if line.startswith("fault-run:")]
    report_figures(
        f"host checks: {_assert_passed(host)}", f"fault run: {_assert_passed(faults)}", *figures
    )
    totals = next(line for line in figures if "requests sent=" in line)
    jobs = next(line for line in figures if "jobs enqueued=" in line)
    assert int(re.search(r"requests sent=(\d+)", totals)[1]) > 0, totals  # type: ignore[index]
    assert re.search(r"\bfailures=0\b", totals), totals
    assert re.search(r"faults injected=4\b", faults), figures
    assert re.search(r"\blost=0\b", jobs), jobs
    assert int(re.search(r"executed=(\d+)", jobs)[1]) > 0, jobs  # type: ignore[index]
