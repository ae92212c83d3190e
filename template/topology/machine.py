"""The machine's own PostgreSQL, Redis and RabbitMQ on their standard ports, for CI.

CI runs on a fresh machine where the packages are installed but the servers may not run
(no init system in a container). Each is started only when nothing listens on its port,
so a developer's running servers are left alone.
"""

from __future__ import annotations

import glob
import re
import subprocess
from pathlib import Path

from topology import TopologyError, say
from topology.processes import listening, wait_for_port

POSTGRES, REDIS, RABBITMQ = 5432, 6379, 5672


def start_missing() -> None:
    if not listening(POSTGRES):
        versions = sorted(
            (Path(path).name for path in glob.glob("/etc/postgresql/*")),
            key=lambda name: [int(part) for part in re.findall(r"\d+", name)],
        )
        if not versions:
            raise TopologyError("no PostgreSQL cluster in /etc/postgresql: make system-deps")
        say(f"starting PostgreSQL {versions[-1]} (main)")
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
            check=True,
        )
    if not listening(REDIS):
        say("starting redis-server :6379")
        for directory in ("/var/lib/redis", "/var/log/redis"):
            Path(directory).mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1",
             "--port", str(REDIS), "--save", "", "--appendonly", "no",
             "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"],
            check=True,
        )  # fmt: skip
    if not listening(RABBITMQ):
        # A fault test may have left the node up with its app stopped; otherwise start it.
        say("starting RabbitMQ :5672")
        restarted = subprocess.run(
            ["rabbitmqctl", "-q", "start_app"], capture_output=True, check=False
        )
        if restarted.returncode != 0:
            subprocess.run(["rabbitmq-server", "-detached"], check=True)
    wait_for_port(POSTGRES, 60, "PostgreSQL")
    wait_for_port(REDIS, 30, "Redis")
    wait_for_port(RABBITMQ, 120, "RabbitMQ")
