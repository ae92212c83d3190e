"""A redis-server a test owns, for the tests where Redis goes away and comes back.

It runs as this process's child on a spare port, with nothing on disk, and only that
child is ever signalled. ``stop`` kills it and returns only once it is gone: the process
reaped and its port refusing connections (topology/processes.py ``stop_child``). A stop
that returned earlier would let the next request still reach the dying server, and the
test would pass or fail on the machine's load instead of on the service's behaviour.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from topology.processes import spare_port, stop_child

# A bound on a stuck start, not a speed target: a loaded 2-core machine is slow to fork.
STARTUP_TIMEOUT_SECONDS = 30.0


def answers_ping(port: int) -> bool:
    """A Redis on 127.0.0.1:``port`` answers PING (it is listening and has loaded)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class OwnRedis:
    """redis-server on a spare port; ``start`` and ``stop`` it as often as a test needs."""

    def __init__(self, directory: Path, *arguments: str) -> None:
        """``arguments`` are more redis-server options, e.g. ``"--maxmemory", "24mb"``."""
        binary = shutil.which("redis-server")
        if binary is None:
            reason = "redis-server is not on PATH: the Redis outage tests start their own"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(reason)
            pytest.skip(reason)
        self.binary = binary
        self.directory = directory
        self.arguments = arguments
        self.port = spare_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and return once it answers PING."""
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        command += self.arguments
        self._process = subprocess.Popen(  # noqa: S603
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not answers_ping(self.port):
            if self._process.poll() is not None:
                pytest.fail(
                    f"redis-server exited ({self._process.returncode}) while starting on port "
                    f"{self.port}: is the port taken?"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"redis-server did not answer PING on port {self.port} within "
                    f"{STARTUP_TIMEOUT_SECONDS:g} s"
                )
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill it (SIGKILL: no clean shutdown) and return once it is gone."""
        if self._process is not None:
            stop_child(f"the test's redis-server on port {self.port}", self._process, [self.port])
            self._process = None
