"""HAProxy in front of the instances: its configuration, and its view of each instance.

``topology/haproxy.cfg`` holds the tuned configuration with ``@NAME@`` placeholders;
``render`` fills them in. The instances' health comes from HAProxy's own stats socket.
"""

from __future__ import annotations

import csv
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from topology import TopologyError

TEMPLATE = Path(__file__).with_name("haproxy.cfg")
BACKEND = "instances"


def render(
    target: Path,
    *,
    directory: Path,
    http_port: int,
    stats_port: int,
    instance_ports: Sequence[int],
    server_max_connections: int,
    drain_delay_seconds: int,
) -> None:
    servers = "".join(
        f"    server instance{n} 127.0.0.1:{port}\n" for n, port in enumerate(instance_ports, 1)
    )
    values = {
        "@DIR@": str(directory),
        "@HTTP_PORT@": str(http_port),
        "@STATS_PORT@": str(stats_port),
        "@SERVER_MAXCONN@": str(server_max_connections),
        "@GLOBAL_MAXCONN@": str(server_max_connections * len(instance_ports)),
        "@DRAIN_DELAY@": str(drain_delay_seconds),
    }
    text = TEMPLATE.read_text().replace("@SERVERS@\n", servers)
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    target.write_text(text)
    checked = subprocess.run(
        ["haproxy", "-c", "-q", "-f", str(target)], capture_output=True, text=True, check=False
    )
    if checked.returncode != 0:
        raise TopologyError(f"invalid HAProxy configuration {target}:\n{checked.stderr}")


def backend_status(stats_socket: Path) -> dict[str, str]:
    """Each instance of the backend and HAProxy's status for it (UP, DOWN, MAINT...)."""
    try:
        with socket.socket(socket.AF_UNIX) as connection:
            connection.settimeout(2)
            connection.connect(str(stats_socket))
            connection.sendall(b"show stat\n")
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
    except OSError:
        return {}
    rows = csv.reader(b"".join(chunks).decode().lstrip("# ").splitlines())
    return {
        row[1]: row[17]
        for row in rows
        if len(row) > 17 and row[0] == BACKEND and row[1] not in {"BACKEND", "FRONTEND"}
    }


def wait_backend(stats_socket: Path, server: str, want: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    status = ""
    while time.monotonic() < deadline:
        status = backend_status(stats_socket).get(server, "")
        if status == want:
            return
        time.sleep(0.1)
    raise TopologyError(
        f"HAProxy still reports {server} as '{status or 'unknown'}', not {want}, "
        f"after {seconds:g} s"
    )
