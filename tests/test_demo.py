"""`make demo` serves first: a fresh render answers /healthz, with no test suite run on the way.

The time to /healthz is a figure in the suite's output, never an assertion: machines vary.
The README's quick start quotes it, measured warm and cold.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import TEMPLATE_ROOT, render, service_env

# Loaded by every pytest started with PYTEST_PLUGINS naming it (`uv run pytest`, `python -m
# pytest`, any Makefile target): it records the command line and ends that pytest at once.
TRIPWIRE = """
import os
import sys

with open(os.environ["DEMO_PYTEST_TRIPWIRE"], "a") as record:
    record.write(" ".join(sys.argv) + "\\n")
os._exit(99)
"""
HEALTHZ_TIMEOUT_SECONDS = 600  # a cold uv cache downloads every runtime dependency
STOP_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - 127.0.0.1
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


def group_gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


def processes_running_from(directory: Path) -> list[int]:
    """Every live process whose command line names `directory`, whatever its session."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(directory).encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:  # it exited meanwhile
            continue
    return found


def wait_for(
    condition: Callable[[], bool],
    what: str,
    demo: subprocess.Popen[bytes],
    log: Path,
    seconds: float,
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if demo.poll() is not None:
            pytest.fail(f"make demo exited {demo.returncode} before {what}:\n{log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {seconds:.0f} s:\n{log.read_text()[-6000:]}")
        time.sleep(0.05)


def stop_like_ctrl_c(demo: subprocess.Popen[bytes], port: int, demo_dir: Path) -> None:
    """SIGINT to the demo's process group, as a terminal's Ctrl-C; then nothing may remain."""
    if not group_gone(demo.pid):  # else make demo has already failed, and said why
        os.killpg(demo.pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while demo.poll() is None or not refuses(port) or processes_running_from(demo_dir):
        if time.monotonic() > deadline:
            left = processes_running_from(demo_dir)
            for pid in left:
                os.kill(pid, signal.SIGKILL)
            pytest.fail(
                f"Ctrl-C left make demo running: make {demo.poll()}, port {port} "
                f"{'refuses' if refuses(port) else 'still answers'}, processes {left}"
            )
        time.sleep(0.1)
    assert group_gone(demo.pid)


@pytest.fixture
def pytest_tripwire(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment that makes any pytest run record itself, proven to fire before it is used."""
    plugin_dir = tmp_path / "tripwire"
    plugin_dir.mkdir()
    (plugin_dir / "demo_pytest_tripwire.py").write_text(TRIPWIRE)
    record = tmp_path / "pytest-runs"
    env = {
        "PYTEST_PLUGINS": "demo_pytest_tripwire",
        "PYTHONPATH": str(plugin_dir),
        "DEMO_PYTEST_TRIPWIRE": str(record),
    }
    empty = tmp_path / "no-tests"
    empty.mkdir()
    proof = subprocess.run(
        ["python3", "-m", "pytest", "-q", str(empty)],
        env=service_env(**env),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proof.returncode == 99, proof.stdout + proof.stderr
    assert record.is_file()
    record.unlink()
    yield env
    assert not record.exists(), f"make demo ran pytest: {record.read_text()}"


def test_make_demo_serves_a_fresh_render_and_runs_no_test_suite(
    tmp_path: Path, pytest_tripwire: dict[str, str], report_figures
) -> None:
    port, demo_dir, log = free_port(), tmp_path / "demo", tmp_path / "make-demo.log"
    url = f"http://127.0.0.1:{port}"
    env = service_env(PORT=str(port), DEMO_DIR=str(demo_dir), **pytest_tripwire)
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    with log.open("wb") as output:
        demo = subprocess.Popen(
            ["make", "demo"],
            cwd=TEMPLATE_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: answers(f"{url}/healthz"), "/healthz", demo, log, HEALTHZ_TIMEOUT_SECONDS)
        healthz_seconds = time.monotonic() - started
        wait_for(lambda: "Stop: Ctrl-C" in log.read_text(), "what to try", demo, log, 120)
        printed = log.read_text()
        try_it = printed[printed.index("Try it:") :]
        commands = [
            line.strip()
            for line in try_it.splitlines()
            if line.strip().startswith(("curl ", "TOKEN="))
        ]
        # The sign-up, login and /users/me commands the demo prints work as printed.
        done = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + "\necho '<next>'\n".join(commands)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        stop_like_ctrl_c(demo, port, demo_dir)
    assert done.returncode == 0, done.stderr
    sign_up, login, _token, me = done.stdout.split("<next>")
    assert sign_up.startswith("HTTP/1.1 202"), sign_up
    assert json.loads(login)["access_token"]
    assert json.loads(me)["email"] == "you@example.com"
    # What the demo checked and what it points to, before it serves.
    for line in (
        "smoke-check: signed up as smoke-check@example.com",
        "smoke-check: logged in as smoke-check@example.com and read /api/v1/users/me",
        f"{url}/docs",
        f"{demo_dir / 'README.md'}",
    ):
        assert line in printed
    # Serving needs only the runtime dependencies: the test tools are not even installed.
    assert not (demo_dir / ".venv" / "bin" / "pytest").exists()
    report_figures(
        f"make demo, fresh render to /healthz: {healthz_seconds:.1f} s "
        f"(uv cache as this machine has it; load average {load_before:.1f} at start)"
    )


def test_a_taken_port_is_named_with_how_to_choose_another(tmp_path: Path) -> None:
    service = render(tmp_path / "service", {})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            ["make", "demo", f"PORT={port}"],
            cwd=service,
            env=service_env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert done.returncode != 0
    assert f"demo: cannot serve on 127.0.0.1:{port} (Address already in use)" in done.stderr
    assert f"make demo PORT={port + 1}" in done.stderr
    assert not (service / "app.db").exists(), "nothing is migrated before the port is known free"


def test_make_demo_never_replaces_a_directory_it_did_not_render(tmp_path: Path) -> None:
    keep = tmp_path / "notes"
    keep.mkdir()
    (keep / "todo.txt").write_text("mine")
    done = subprocess.run(
        ["make", "demo", f"DEMO_DIR={keep}"],
        cwd=TEMPLATE_ROOT,
        env=service_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert f"make demo: {keep} is not a rendered service; not replacing it" in done.stderr
    assert (keep / "todo.txt").read_text() == "mine"


class RefusesSignUp(BaseHTTPRequestHandler):
    """Ready, but refuses every sign-up as a weak password, as the service answers one."""

    def do_GET(self) -> None:
        self.answer(200, b'{"status": "ready"}')

    def do_POST(self) -> None:
        self.answer(422, b'{"detail": [{"type": "password_too_weak"}]}')

    def answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


def smoke_check(*args: str, **account: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TEMPLATE_ROOT / "template" / "scripts" / "smoke-check"), *args],
        env={**os.environ, **account},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_smoke_checks_sign_up_fails_on_anything_but_202() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RefusesSignUp)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        account = {"SMOKE_EMAIL": "smoke@example.com", "SMOKE_PASSWORD": "12345678"}
        done = smoke_check(url, "--sign-up", "--timeout-seconds", "5", **account)
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 1
    assert "FAILED: sign-up as smoke@example.com answered 422" in done.stderr
    assert "password_too_weak" in done.stderr


def test_the_smoke_checks_sign_up_needs_the_account() -> None:
    done = smoke_check("http://127.0.0.1:9", "--sign-up", SMOKE_EMAIL="", SMOKE_PASSWORD="")
    assert done.returncode == 2
    assert "--sign-up needs SMOKE_EMAIL and SMOKE_PASSWORD" in done.stderr
