"""`make bench`: render a service, run it on real servers, load it, report, tear down.

    uv run python scripts/bench.py            # the full run: 100,000 items, 10 s per scenario
    uv run python scripts/bench.py --smoke    # CI's short run: 2,000 items, 1 s per scenario

Steps, each bounded in time:

1. render the template with the default answers into build/bench/service and install it;
2. start PostgreSQL primary + streaming replica (in /tmp/tenfold-bench-pg on ports
   57432/57433) and a private redis-server on 16381, through the service's own server
   orchestrator (template/topology: the same code as `scripts/pg-pair` and the topology);
   RabbitMQ is the machine's (5672), with queues named tenfold-bench (deleted after);
3. migrate, seed the items (bench/seed.py), ANALYZE;
4. start the service as in production (`python -m app.server`: Granian on uvloop, JSON
   logs), two processes on one port, with BENCH_TWINS=true, plus the job worker; and the
   ceiling, a bare FastAPI app (`python -m bench.ceiling`) on the same server, also two
   processes, on its own port;
5. run every scenario of bench/scenarios.py (wrk, and h2load for the HTTP/2 page), each
   beside its untuned twin in the same run against the same server;
6. write build/bench/results.json, the markdown table and the PNG chart (and, for a full
   run, copy them to docs/assets/), print the table and the targets' PASS/MISS.

Everything started here is stopped here, by PID, also on failure, Ctrl-C or SIGTERM.
A missed target does not fail the run: benchmarks are not tests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import copier

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_report

# The generated service's server orchestrator (standard library only).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "template"))
from topology import TopologyError, redis
from topology.postgres import PgPair
from topology.processes import Account, Processes, listening

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "bench"
SERVICE = BUILD / "service"
DOCS_ASSETS = ROOT / "docs" / "assets"
# A private, fixed cluster directory and spare ports.
PG_PAIR = PgPair(Path("/tmp/tenfold-bench-pg"), primary_port=57432, replica_port=57433)  # noqa: S108
REDIS_PORT = 16381
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
SERVICE_PORT = 18481
CEILING_PORT = 18482
# One run at a time (the ports above are checked), so one queue name; deleted afterwards.
QUEUE = "tenfold-bench"
# Two server processes, as two containers on one host would be (`python -m app.server` is
# one process per container; they share the port with SO_REUSEPORT): on this 2-core
# machine one process would leave a core to wrk, PostgreSQL and Redis and measure their
# idle time. The ceiling runs as many, so every ratio compares like with like.
SERVER_PROCESSES = 2
# `make system-deps` installs each of them (template/scripts/system-deps, group bench).
REQUIRED_TOOLS = {
    "wrk": "make system-deps (installs wrk)",
    "h2load": "make system-deps (installs nghttp2-client)",
    "redis-server": "make system-deps (installs redis-server)",
}


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    items: int
    depth: int
    duration: float
    warmup: float
    connections: int
    browsers: int
    max_requests: int


FULL = Profile("full", 100_000, 90_000, 10.0, 2.0, 64, 4, 500_000)
SMOKE = Profile("smoke", 2_000, 1_500, 1.0, 0.0, 8, 2, 50_000)


class Stopped(Exception):
    """SIGTERM or SIGINT arrived: unwind so every started process is stopped."""


def log(message: str) -> None:
    print(f"bench: {message}", flush=True)


def check_tools() -> None:
    missing = [
        f"{tool} ({hint})" for tool, hint in REQUIRED_TOOLS.items() if not shutil.which(tool)
    ]
    if missing:
        sys.exit(f"bench: missing tools: {', '.join(missing)}")
    if not shutil.which("uv"):
        sys.exit("bench: uv is not on PATH; run it through `make bench` (uv run)")


def run(
    command: list[str],
    *,
    cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> str:
    """Run to completion; on failure exit with the command's output."""
    result = subprocess.run(
        command,
        cwd=cwd,
        env=dict(env) if env else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(
            f"bench: `{' '.join(command)}` exited {result.returncode}:\n"
            f"{(result.stdout + result.stderr)[-4000:]}"
        )
    return result.stdout


def wait_until(url: str, processes: Processes, names: list[str], *, timeout: float) -> None:
    """Until ``url`` answers 200 from every one of ``names`` (processes sharing a port)."""
    deadline = time.monotonic() + timeout
    answered = 0
    while time.monotonic() < deadline:
        for name in names:
            if not processes.running(name):
                sys.exit(f"bench: {name} exited while starting; see build/bench/{name}.log")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url, timeout=2) as response,  # noqa: S310 - loopback URL
        ):
            answered += response.status == 200
        # The kernel spreads new connections over the processes: a few answers in a row
        # make it very likely that each process has bound the port and serves.
        if answered >= 4 * len(names):
            return
        time.sleep(0.1 if answered else 0.3)
    sys.exit(f"bench: {', '.join(names)} did not answer {url} within {timeout:.0f} s")


def start_servers(
    processes: Processes, role: str, module: str, env: Mapping[str, str], port: int
) -> tuple[list[str], list[int]]:
    """``SERVER_PROCESSES`` processes of ``python -m module`` sharing ``port``."""
    python = SERVICE / ".venv" / "bin" / "python"
    names = [f"{role}-{number}" for number in range(1, SERVER_PROCESSES + 1)]
    # The service's interpreter itself (not `uv run`, which would stay as the parent):
    # its PID is the server's, for SIGTERM and CPU time per request.
    pids = [
        processes.start(
            name, [str(python), "-m", module], env=env | {"PORT": str(port)}, cwd=SERVICE
        )
        for name in names
    ]
    return names, pids


@contextlib.contextmanager
def postgres_pair() -> Iterator[dict[str, str]]:
    try:
        PG_PAIR.down()  # a cluster left by a killed run
        PG_PAIR.up()
        log(f"PostgreSQL primary :{PG_PAIR.primary_port}, replica :{PG_PAIR.replica_port}")
        urls = PG_PAIR.urls()
        yield {
            "DATABASE_URL": urls["TEST_DATABASE_URL"],
            "DATABASE_READ_URLS": urls["TEST_DATABASE_READ_URLS"],
        }
    finally:
        PG_PAIR.down()
        log("PostgreSQL pair stopped and deleted")


def render_service() -> dict[str, str]:
    """Render with the default answers and install; returns the environment to run it in."""
    shutil.rmtree(SERVICE, ignore_errors=True)
    SERVICE.parent.mkdir(parents=True, exist_ok=True)
    log(f"rendering the template with the default answers into {SERVICE.relative_to(ROOT)}")
    # HEAD: this checkout, not the newest release tag copier would pick without a ref.
    copier.run_copy(str(ROOT), SERVICE, defaults=True, unsafe=True, quiet=True, vcs_ref="HEAD")
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.setdefault("UV_PYTHON", "python3")
    run(["uv", "sync", "--locked", "--quiet"], cwd=SERVICE, env=env, timeout=600)
    return env


def service_settings(database: Mapping[str, str]) -> dict[str, str]:
    """Production-like settings; ENVIRONMENT stays development because production refuses
    BENCH_TWINS (the untuned twins must never reach a real deployment)."""
    return {
        **database,
        "ENVIRONMENT": "development",
        "BENCH_TWINS": "true",
        "PORT": str(SERVICE_PORT),
        "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        "BROKER_URL": BROKER_URL,
        "JOBS_QUEUE_NAME": QUEUE,
        "JWT_SECRET_KEY": secrets.token_hex(32),
        "LOG_JSON": "true",
        "LOG_LEVEL": "INFO",
        "DRAIN_DELAY_SECONDS": "0",
        "DRAIN_TIMEOUT_SECONDS": "5",
        # The HTTP/2 page scenario talks h2c to the server (h2load), off by default.
        "SERVER_HTTP2_CLEARTEXT": "true",
    }


def delete_queues(env: Mapping[str, str]) -> None:
    """Remove this run's queues from the shared RabbitMQ (best effort: it may be down)."""
    python = SERVICE / ".venv" / "bin" / "python"
    names = [QUEUE, f"{QUEUE}.dead-letter"]
    result = subprocess.run(
        [str(python), str(ROOT / "scripts" / "delete_queues.py"), BROKER_URL, *names],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode == 0:
        log(f"deleted the RabbitMQ queues {', '.join(names)}")
    else:
        log(f"could not delete the RabbitMQ queues {names}: {result.stderr.strip()[-300:]}")


def machine_facts() -> dict[str, object]:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "load_average_1m_5m_15m": [round(value, 2) for value in load],
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def tool_version(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    text = (result.stdout + result.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def bench(profile: Profile, *, publish: bool) -> int:
    started = time.monotonic()
    check_tools()
    for port in (SERVICE_PORT, CEILING_PORT, REDIS_PORT):
        if listening(port):
            sys.exit(f"bench: port {port} is taken (another `make bench`?); stop that first")
    BUILD.mkdir(parents=True, exist_ok=True)
    env = render_service()
    # Each in its own session (Ctrl-C reaches only this script, which then stops them).
    # PID files of a killed run would name processes that are long gone: forget them.
    shutil.rmtree(BUILD / "pids", ignore_errors=True)
    for stale_log in BUILD.glob("*.log"):
        stale_log.unlink()
    processes = Processes(BUILD / "pids", BUILD, Account.current())
    before = machine_facts()
    log(
        f"profile {profile.name}: {profile.items:,} items, {profile.duration:g} s per scenario, "
        f"{profile.connections} connections; load average before: {before['load_average_1m_5m_15m']}"
    )
    try:
        processes.start("redis", redis.server_command(REDIS_PORT, BUILD, keep_data=False), env=env)
        log(f"redis-server :{REDIS_PORT}")
        with postgres_pair() as database:
            try:
                processes.wait_for_port("redis", REDIS_PORT, 20)
                service_env = env | service_settings(database)
                uv_run = ["uv", "run", "--locked", "--no-sync"]
                python = SERVICE / ".venv" / "bin" / "python"
                run([*uv_run, "alembic", "upgrade", "head"], cwd=SERVICE, env=service_env)
                seeded = run(
                    [*uv_run, "python", "-m", "bench.seed", "--items", str(profile.items)],
                    cwd=SERVICE,
                    env=service_env,
                    timeout=900,
                )
                log(seeded.strip())
                # Fresh statistics, as autovacuum would give a table that grew this much.
                run(
                    [
                        "psql",
                        f"postgresql://postgres@127.0.0.1:{PG_PAIR.primary_port}/app",
                        "-XAtq",
                        "-c",
                        "ANALYZE",
                    ]
                )
                servers, server_pids = start_servers(
                    processes, "server", "app.server", service_env, SERVICE_PORT
                )
                ceilings, ceiling_pids = start_servers(
                    processes, "ceiling", "bench.ceiling", service_env, CEILING_PORT
                )
                processes.start(
                    "worker", [str(python), "-m", "app.jobs.worker"], env=service_env, cwd=SERVICE
                )
                log(
                    "started the server (python -m app.server), the ceiling (python -m "
                    "bench.ceiling) and the worker; logs in build/bench"
                )
                base_url = f"http://127.0.0.1:{SERVICE_PORT}"
                ceiling_url = f"http://127.0.0.1:{CEILING_PORT}"
                wait_until(base_url + "/readyz", processes, servers, timeout=60)
                wait_until(ceiling_url + "/healthz", processes, ceilings, timeout=60)
                log(
                    f"server ready at {base_url}, ceiling at {ceiling_url}: {SERVER_PROCESSES} "
                    f"Granian processes each on uvloop, on {os.cpu_count()} cores shared with "
                    "wrk, PostgreSQL, Redis and the worker"
                )
                raw = BUILD / "run.json"
                load_started = time.monotonic()
                run(
                    [
                        *uv_run,
                        "python",
                        "-m",
                        "bench.run",
                        "--base-url",
                        base_url,
                        "--duration",
                        str(profile.duration),
                        "--warmup",
                        str(profile.warmup),
                        "--connections",
                        str(profile.connections),
                        "--browsers",
                        str(profile.browsers),
                        "--max-requests",
                        str(profile.max_requests),
                        "--depth",
                        str(profile.depth),
                        "--engine",
                        "wrk",
                        "--output",
                        str(raw),
                        "--ceiling-url",
                        ceiling_url,
                        *(f"--server-pid={pid}" for pid in server_pids),
                        *(f"--ceiling-pid={pid}" for pid in ceiling_pids),
                    ],
                    cwd=SERVICE,
                    env=service_env,
                    timeout=1800,
                )
                load_seconds = time.monotonic() - load_started
            finally:
                # Every server and the worker, before their database.
                processes.stop(
                    *(name for name in processes.names() if name != "redis"), wait_seconds=15
                )
                delete_queues(env)
    finally:
        processes.stop(*processes.names(), wait_seconds=15)
        log("stopped every process this run started")
    data = json.loads(raw.read_text())
    data["run"] = {
        "profile": profile.name,
        "items": profile.items,
        "server_processes": SERVER_PROCESSES,
        "server": "python -m app.server (Granian, uvloop, HTTP/1.1 + h2c)",
        "database": "PostgreSQL primary + streaming replica (pg-pair: fsync off)",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine_before": before,
        "machine_after": machine_facts(),
        "load_seconds": round(load_seconds, 1),
        "total_seconds": round(time.monotonic() - started, 1),
        "tools": {
            "wrk": tool_version(["wrk", "-v"]),
            "h2load": tool_version(["h2load", "--version"]),
        },
    }
    outputs = bench_report.write_all(data, BUILD)
    if publish:
        DOCS_ASSETS.mkdir(parents=True, exist_ok=True)
        for source, name in (
            (outputs.json, "benchmarks.json"),
            (outputs.png, "benchmarks.png"),
            (outputs.markdown, "benchmarks-table.md"),
        ):
            shutil.copyfile(source, DOCS_ASSETS / name)
        # The capacity planner ships inside the service's infra package, away from docs/.
        shutil.copyfile(outputs.json, ROOT / "pulumi" / "tenfold_infra" / "bench_published.json")
        log(
            f"published to {DOCS_ASSETS.relative_to(ROOT)}/benchmarks.{{json,png}} and benchmarks-table.md"
        )
    print(bench_report.text_report(data))
    log(
        f"done in {data['run']['total_seconds']:.0f} s (load {load_seconds:.0f} s); "
        f"results: {outputs.json.relative_to(ROOT)}, chart: {outputs.png.relative_to(ROOT)}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/bench.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--smoke", action="store_true", help="CI's short run; writes build/ only")
    parser.add_argument(
        "--no-publish", action="store_true", help="full run without updating docs/assets"
    )
    args = parser.parse_args(argv)

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise Stopped(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    profile = SMOKE if args.smoke else FULL
    try:
        return bench(profile, publish=not (args.smoke or args.no_publish))
    except Stopped as stopped:
        log(f"stopped by {stopped}; everything it started is stopped")
        return 130
    except TopologyError as error:
        sys.exit(f"bench: {error}")


if __name__ == "__main__":
    sys.exit(main())
