"""The generated service's production-like topology: host checks and the fault run pass.

Renders the default answers, `make topology-up` (HAProxy, two instances, a worker, a
PostgreSQL primary + replica, its own Redis and RabbitMQ node, all on spare ports), then
`make test-host` and `make test-faults`, and always `make topology-down`, which must leave
no process and no listening port behind. Skips with the reason when a server binary is
missing; with CI=true it fails instead.
"""

import glob
import re
import shutil
import socket
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
# The state file's ports: every one a server of the topology listens on.
PORT_KEYS = (
    "TOPOLOGY_HTTP_PORT",
    "TOPOLOGY_INSTANCE_PORTS",
    "TOPOLOGY_METRICS_PORTS",
    "TOPOLOGY_STATS_PORT",
    "TOPOLOGY_REDIS_PORT",
    "TOPOLOGY_RABBITMQ_PORT",
    "TOPOLOGY_RABBITMQ_DIST_PORT",
    "TOPOLOGY_PG_PRIMARY_PORT",
    "TOPOLOGY_PG_REPLICA_PORT",
)


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


def _ports(topology_dir: Path) -> list[int]:
    """The ports in the topology's state file (none if `up` never wrote it)."""
    try:
        lines = (topology_dir / "topology.env").read_text().splitlines()
    except OSError:
        return []
    state = dict(line.split("=", 1) for line in lines if "=" in line)
    return [int(port) for key in PORT_KEYS for port in state[key].strip('"').split()]


def _accepting(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat from its 3rd field (state, ppid, pgrp, session, ... starttime at [19])."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _topology_processes(topology_dir: Path) -> dict[tuple[int, str], str]:
    """Every process the topology runs, by (PID, start time), with its command line.

    Those with a PID file and everything in their sessions (each leads its own: the Erlang
    VM, its helpers), and the PostgreSQL servers with their children.
    """
    leaders = set()
    for path in [*topology_dir.glob("pids/*.pid"), *topology_dir.glob("postgres/*/postmaster.pid")]:
        try:
            leaders.add(int(path.read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            continue
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat(int(entry.name))
        if fields and {int(entry.name), int(fields[1]), int(fields[3])} & leaders:
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, UnicodeDecodeError):
                command = "?"
            found[int(entry.name), fields[19]] = command.strip()
    return found


def _still_running(processes: dict[tuple[int, str], str]) -> list[str]:
    """Those of ``processes`` still running (the same PID and start time, not a zombie)."""
    left = []
    for (pid, started), command in processes.items():
        fields = _stat(pid)
        if fields and fields[19] == started and fields[0] != "Z":
            left.append(f"PID {pid}: {command}")
    return left


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
    topology_dir = base / "topology"
    env = service_env(UV_PYTHON=python, TOPOLOGY_DIR=str(topology_dir), CI="true")
    try:
        up = run(["make", "topology-up"], cwd=service, env=env, timeout=600)
        print(up[-1500:])
        host = run(["make", "test-host"], cwd=service, env=env, timeout=300)
        faults = run(["make", "test-faults"], cwd=service, env=env, timeout=600)
    finally:
        running, ports = _topology_processes(topology_dir), _ports(topology_dir)
        down = subprocess.run(
            ["make", "topology-down"],
            cwd=service,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        left = _still_running(running)
        accepting = [port for port in ports if _accepting(port)]
        shutil.rmtree(base, ignore_errors=True)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not topology_dir.exists()
    # Down means gone: not one process of the topology, not one of its ports.
    assert running, "no process of the topology was found while it ran"
    assert not left, "topology-down left processes running:\n" + "\n".join(left)
    assert not accepting, f"topology-down left ports accepting connections: {accepting}"

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
