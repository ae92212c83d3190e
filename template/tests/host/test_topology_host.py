"""The running hosts are set up as production needs: testinfra checks, local or over ssh.

``make test-host`` runs them against the local topology; ``pytest tests/host
--hosts=ssh://user@host`` against a deployed host (README: "Host checks").
"""

from __future__ import annotations

import csv
import io

import pytest
from pydantic import ValidationError

from app.limits import required_open_files
from app.settings import Settings
from tests.host.conftest import HostTopology, ServiceProcess

pytestmark = pytest.mark.host


def test_service_and_worker_processes_run_as_a_non_root_user(topology: HostTopology) -> None:
    processes = topology.processes()
    roles = [process.role for process in processes]
    assert roles.count("instance") >= len(topology.instance_ports), processes
    assert roles.count("worker") >= 1, processes
    as_root = [process for process in processes if process.user == "root"]
    assert not as_root, f"service processes running as root: {as_root}"


def test_each_instance_listens_on_its_port(topology: HostTopology) -> None:
    for port in topology.instance_ports:
        # On every IPv4 address (what the server binds), or at least on loopback.
        addresses = ("0.0.0.0", "127.0.0.1")  # noqa: S104 - names a bind address, binds nothing
        listening = [topology.host.socket(f"tcp://{a}:{port}").is_listening for a in addresses]
        assert any(listening), f"nothing listens on port {port}"


def test_readyz_answers_200_on_each_instance_and_through_the_load_balancer(
    topology: HostTopology,
) -> None:
    urls = [f"http://127.0.0.1:{port}/readyz" for port in topology.instance_ports]
    if topology.base_url:
        urls.append(f"{topology.base_url}/readyz")
    statuses = {url: topology.http_status(url) for url in urls}
    assert set(statuses.values()) == {"200"}, statuses


def test_open_files_limit_covers_the_configured_connections(topology: HostTopology) -> None:
    """soft RLIMIT_NOFILE >= 2 * SERVER_MAX_CONNECTIONS + pool * (1 + replicas) + 64.

    Computed from each process's own environment (/proc/<pid>/environ), so it checks the
    settings the process really runs with (app/limits.py explains the formula).
    """
    processes = topology.processes()
    assert processes
    for process in processes:
        limit = _soft_open_files(topology, process)
        required = required_open_files(_settings_of(topology, process))
        print(f"PID {process.pid} ({process.role}): open files {limit} >= required {required}")  # noqa: T201
        assert limit >= required, (
            f"{process.role} PID {process.pid} may open {limit} files but its settings need "
            f"{required}: raise LimitNOFILE / ulimit -n"
        )


def test_haproxy_is_up_with_every_backend_server_healthy(topology: HostTopology) -> None:
    if not topology.stats_socket:
        pytest.skip("no HAProxy stats socket named (TOPOLOGY_STATS_SOCKET)")
    haproxy = topology.host.process.filter(comm="haproxy")
    assert haproxy, "no haproxy process"
    assert all(process.user != "root" for process in haproxy), "haproxy runs as root"
    result = topology.host.run(
        "echo 'show stat' | socat -T 2 stdio UNIX-CONNECT:%s", topology.stats_socket
    )
    assert result.rc == 0, result.stderr
    rows = csv.DictReader(io.StringIO(result.stdout.removeprefix("# ")))
    servers = {
        row["svname"]: row["status"]
        for row in rows
        if row["pxname"] == topology.backend and row["svname"] not in {"FRONTEND", "BACKEND"}
    }
    assert len(servers) == len(topology.instance_ports), servers
    assert set(servers.values()) == {"UP"}, servers


def _soft_open_files(topology: HostTopology, process: ServiceProcess) -> int:
    limits = topology.host.file(f"/proc/{process.pid}/limits").content_string
    line = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    return int(line.split()[3])


def _settings_of(topology: HostTopology, process: ServiceProcess) -> Settings:
    raw = topology.host.file(f"/proc/{process.pid}/environ").content
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    environ = {key.decode().lower(): value.decode() for key, value in pairs}
    values = {name: environ[name] for name in Settings.model_fields if name in environ}
    try:
        return Settings(_env_file=None, **values)
    except ValidationError as error:
        pytest.fail(f"PID {process.pid}'s environment is not valid Settings: {error}")
