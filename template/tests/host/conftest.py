"""What the host checks look at: the topology's state file on the host, or TOPOLOGY_* variables.

Locally, ``scripts/topology up`` writes ``$TOPOLOGY_DIR/topology.env``; the checks read it
through testinfra (so over ssh they read the remote host's copy). On a deployed host
without that file, name what to check with the same variables, e.g.
``TOPOLOGY_INSTANCE_PORTS="8000" TOPOLOGY_BASE_URL=http://127.0.0.1:80
TOPOLOGY_STATS_SOCKET=/run/haproxy/admin.sock`` (README: "Host checks").
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass

import pytest
from testinfra.host import Host  # type: ignore[import-untyped]

from tests.topology.state import default_topology_dir, parse_state, skip_or_fail

# Read from the host's state file, and overridable from the environment.
KEYS = (
    "TOPOLOGY_INSTANCE_PORTS",
    "TOPOLOGY_BASE_URL",
    "TOPOLOGY_STATS_SOCKET",
    "TOPOLOGY_PIDS",
    "TOPOLOGY_HAPROXY_BACKEND",
)
SERVICE_COMMANDS = {"instance": "-m app.server", "worker": "-m app.jobs.worker"}


@dataclass(frozen=True, slots=True)
class ServiceProcess:
    role: str  # "instance" or "worker"
    pid: int
    user: str
    args: str


@dataclass(frozen=True, slots=True)
class HostTopology:
    host: Host
    instance_ports: list[int]
    base_url: str | None
    stats_socket: str | None
    pid_dir: str | None
    backend: str

    def processes(self) -> list[ServiceProcess]:
        """The service's instances and workers: from the PID files, else by command line."""
        found: list[ServiceProcess] = []
        if self.pid_dir and self.host.file(self.pid_dir).is_directory:
            for name in self.host.file(self.pid_dir).listdir():
                role = "worker" if name.startswith("worker") else "instance"
                if not name.startswith(("instance", "worker")):
                    continue
                pid = int(self.host.file(f"{self.pid_dir}/{name}").content_string.strip())
                process = self.host.process.get(pid=pid)
                found.append(ServiceProcess(role, pid, process.user, process.args))
            return found
        for process in self.host.process.filter():
            for role, command in SERVICE_COMMANDS.items():
                if command in process.args:
                    found.append(ServiceProcess(role, process.pid, process.user, process.args))
        return found

    def http_status(self, url: str) -> str:
        """The HTTP status of GET ``url``, fetched on the host itself (curl)."""
        result = self.host.run("curl -s -o /dev/null -m 5 -w '%{http_code}' " + shlex.quote(url))
        return str(result.stdout).strip()


@pytest.fixture(scope="module")
def topology(host: Host) -> HostTopology:
    path = os.environ.get("TOPOLOGY_STATE") or str(default_topology_dir() / "topology.env")
    state_file = host.file(path)
    state = parse_state(state_file.content_string) if state_file.exists else {}
    state.update({key: os.environ[key] for key in KEYS if os.environ.get(key)})
    if not state.get("TOPOLOGY_INSTANCE_PORTS"):
        skip_or_fail(
            f"no topology on the host: {path} not found and TOPOLOGY_INSTANCE_PORTS not set "
            "(run `make topology-up`, or name a deployed host's ports; see README)"
        )
    return HostTopology(
        host=host,
        instance_ports=[int(port) for port in state["TOPOLOGY_INSTANCE_PORTS"].split()],
        base_url=state.get("TOPOLOGY_BASE_URL"),
        stats_socket=state.get("TOPOLOGY_STATS_SOCKET"),
        pid_dir=state.get("TOPOLOGY_PIDS"),
        backend=state.get("TOPOLOGY_HAPROXY_BACKEND", "instances"),
    )
