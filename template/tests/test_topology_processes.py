"""Stopping a server returns only once it is gone (topology/processes.py).

Every stop in the topology, pg-pair and the tests' own servers goes through
``Processes.stop``, ``stop_child`` or ``wait_until_gone``: the process has exited and its
ports refuse connections, or the stop fails with an error that names what is left. These
tests use small Python servers of their own on spare ports.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from topology import TopologyError
from topology import processes as processes_module
from topology.processes import (
    Account,
    Processes,
    listening,
    spare_port,
    stop_child,
    wait_for_port,
)

# Processes.start lets go of its Popen on purpose: `up` exits and `down`, another program,
# stops the server by its PID file. Python warns when such an object is dropped.
pytestmark = pytest.mark.filterwarnings(r"ignore:subprocess \d+ is still running:ResourceWarning")

# A server on argv[1] that drains for argv[2] seconds on SIGTERM ("ignore": never stops on
# it) and, with argv[3] = a path, forks a child that keeps the listener and writes its PID
# there, as a worker process that inherited the socket would.
SERVER = """
import os, signal, socket, sys, time
port, on_term, child_pid_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen()
if child_pid_file and os.fork() == 0:
    with open(child_pid_file, "w") as file:
        file.write(str(os.getpid()))
    time.sleep(60)
    os._exit(0)
def drain(*_):
    time.sleep(float(on_term))
    os._exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN if on_term == "ignore" else drain)
while True:
    listener.accept()[0].close()
"""


def server_command(port: int, on_term: str, child_pid_file: Path | None = None) -> list[str]:
    return [sys.executable, "-c", SERVER, str(port), on_term, str(child_pid_file or "")]


@pytest.fixture
def processes(tmp_path: Path) -> Processes:
    return Processes(tmp_path / "pids", tmp_path / "logs", Account.current())


@pytest.fixture
def child_pid_file(tmp_path: Path) -> Iterator[Path]:
    """Where a forked child writes its PID; the child is killed after the test."""
    path = tmp_path / "child.pid"
    yield path
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(path.read_text()), signal.SIGKILL)


def wait_for_file(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} was never written"
        time.sleep(0.02)


def test_a_draining_server_is_gone_when_stop_returns(processes: Processes) -> None:
    port = spare_port()
    processes.start("server", server_command(port, "0.5"), env=os.environ)
    processes.wait_for_port("server", port, 30)

    processes.stop("server", ports=[port])

    assert not listening(port)
    assert not processes.running("server")
    assert processes.names() == []


def test_a_server_that_ignores_sigterm_is_killed_and_gone_when_stop_returns(
    processes: Processes,
) -> None:
    port = spare_port()
    pid = processes.start("server", server_command(port, "ignore"), env=os.environ)
    processes.wait_for_port("server", port, 30)

    processes.stop("server", wait_seconds=0.2, ports=[port])

    assert not listening(port)
    assert not Path(f"/proc/{pid}").exists()  # our own child: reaped, not a zombie


def test_a_stop_fails_naming_the_server_while_its_port_still_accepts(
    processes: Processes, child_pid_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processes_module, "KILLED_EXIT_SECONDS", 1.0)
    port = spare_port()
    pid = processes.start("server", server_command(port, "0", child_pid_file), env=os.environ)
    processes.wait_for_port("server", port, 30)
    wait_for_file(child_pid_file)

    with pytest.raises(TopologyError) as stopped:
        processes.stop("server", ports=[port])

    message = str(stopped.value)
    assert f"server (PID {pid})" in message
    assert f"127.0.0.1:{port} still accepts connections" in message
    assert processes.pid("server") == pid  # kept, so that a later `down` still finds it


def test_stop_child_returns_once_the_child_is_reaped_and_its_port_refuses() -> None:
    port = spare_port()
    child = subprocess.Popen(server_command(port, "ignore"))  # noqa: S603
    wait_for_port(port, 30, "the test server")

    stop_child("the test server", child, [port])

    assert child.returncode == -signal.SIGKILL
    assert not listening(port)


def test_stop_child_fails_naming_the_server_while_a_grandchild_holds_its_port(
    child_pid_file: Path,
) -> None:
    port = spare_port()
    child = subprocess.Popen(server_command(port, "0", child_pid_file))  # noqa: S603
    wait_for_port(port, 30, "the test server")
    wait_for_file(child_pid_file)

    with pytest.raises(
        TopologyError,
        match=rf"the test server did not stop within 1 s: "
        rf"127\.0\.0\.1:{port} still accepts connections",
    ):
        stop_child("the test server", child, [port], seconds=1)
