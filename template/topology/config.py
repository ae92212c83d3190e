"""The topology's ports and directories: from TOPOLOGY_* variables, then from its state file.

``up`` reads the environment (each variable has a default) and writes the state file
``$TOPOLOGY_DIR/topology.env``. Every later command reads the ports ``up`` was given from
that file, whatever the environment says now. The file is also what the fault run and the
host checks read (tests/topology/state.py), so its ``KEY=value`` format is a contract.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from topology.postgres import PgPair
from topology.rabbitmq import Node

SERVICE_DIR = Path(__file__).resolve().parents[1]
STATE_LINE = re.compile(r"([A-Z_][A-Z0-9_]*)=(.*)")


def project_slug() -> str:
    match = re.search(r'^name = "(.*)"$', (SERVICE_DIR / "pyproject.toml").read_text(), re.M)
    return match[1] if match else "service"


def default_directory(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("TOPOLOGY_DIR") or f"/tmp/{project_slug()}-topology")  # noqa: S108


def read_state(path: Path) -> dict[str, str]:
    """``KEY=value`` lines; values with spaces are double-quoted."""
    state = {}
    for line in path.read_text().splitlines():
        match = STATE_LINE.fullmatch(line.strip())
        if match:
            state[match[1]] = match[2].removeprefix('"').removesuffix('"')
    return state


@dataclass(frozen=True, slots=True)
class TopologyConfig:
    directory: Path
    user: str  # who runs the processes when we are root
    http_port: int = 18080
    instance_ports: tuple[int, ...] = (18001, 18002)
    stats_port: int = 18404
    redis_port: int = 16380
    rabbitmq_port: int = 15673
    rabbitmq_dist_port: int = 25673
    pg_primary_port: int = 58432
    pg_replica_port: int = 58433
    drain_delay_seconds: int = 3
    # HAProxy's maxconn per instance; sizes the instances' open-files limit.
    server_max_connections: int = 256

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> TopologyConfig:
        defaults = cls(Path(), "")

        def number(name: str, default: int) -> int:
            value = environ.get(f"TOPOLOGY_{name}") or str(default)
            if not value.isdigit():
                raise ValueError(f"TOPOLOGY_{name}={value!r} is not a whole number")
            return int(value)

        ports = environ.get("TOPOLOGY_INSTANCE_PORTS") or " ".join(
            map(str, defaults.instance_ports)
        )
        if not all(port.isdigit() for port in ports.split()):
            raise ValueError(
                f"TOPOLOGY_INSTANCE_PORTS={ports!r}: give port numbers, e.g. '18001 18002'"
            )
        return cls(
            directory=default_directory(environ),
            user=environ.get("TOPOLOGY_USER") or "tenfold",
            http_port=number("HTTP_PORT", defaults.http_port),
            instance_ports=tuple(int(port) for port in ports.split()),
            stats_port=number("STATS_PORT", defaults.stats_port),
            redis_port=number("REDIS_PORT", defaults.redis_port),
            rabbitmq_port=number("RABBITMQ_PORT", defaults.rabbitmq_port),
            rabbitmq_dist_port=number("RABBITMQ_DIST_PORT", defaults.rabbitmq_dist_port),
            pg_primary_port=number("PG_PRIMARY_PORT", defaults.pg_primary_port),
            pg_replica_port=number("PG_REPLICA_PORT", defaults.pg_replica_port),
            drain_delay_seconds=number("DRAIN_DELAY_SECONDS", defaults.drain_delay_seconds),
            server_max_connections=number(
                "SERVER_MAX_CONNECTIONS", defaults.server_max_connections
            ),
        )

    @property
    def state_file(self) -> Path:
        return self.directory / "topology.env"

    @property
    def metrics_ports(self) -> tuple[int, ...]:
        """Each instance's METRICS_PORT (its port + 100), which HAProxy never routes."""
        return tuple(port + 100 for port in self.instance_ports)

    @property
    def stats_socket(self) -> Path:
        return self.directory / "haproxy" / "stats.sock"

    @property
    def all_ports(self) -> list[int]:
        return [
            self.http_port, *self.instance_ports, *self.metrics_ports, self.stats_port,
            self.redis_port,
            self.rabbitmq_port, self.rabbitmq_dist_port, self.pg_primary_port,
            self.pg_replica_port,
        ]  # fmt: skip

    def database_url(self, port: int) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/app"

    def pg_pair(self) -> PgPair:
        return PgPair(self.directory / "postgres", self.pg_primary_port, self.pg_replica_port)

    def rabbitmq(self) -> Node:
        name = f"{project_slug()}-topology-{self.rabbitmq_port}@localhost"
        return Node(self.directory / "rabbitmq", self.rabbitmq_port, self.rabbitmq_dist_port, name)

    def app_environment(self, jwt_secret_key: str) -> dict[str, str]:
        """What every service process runs with (ENVIRONMENT=production: no dev defaults)."""
        return {
            "ENVIRONMENT": "production",
            "DATABASE_URL": self.database_url(self.pg_primary_port),
            "DATABASE_READ_URLS": self.database_url(self.pg_replica_port),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "BROKER_URL": f"amqp://guest:guest@127.0.0.1:{self.rabbitmq_port}/",
            "JWT_SECRET_KEY": jwt_secret_key,
            "TRUSTED_PROXIES": "127.0.0.1",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CLIENT_IP_HEADER": "CloudFront-Viewer-Address",
            "WORKER_HEARTBEAT_PATH": str(self.directory / "home" / "worker-heartbeat"),
            "DRAIN_DELAY_SECONDS": str(self.drain_delay_seconds),
            "SERVER_MAX_CONNECTIONS": str(self.server_max_connections),
            "OUTBOX_RELAY_MAX_BACKOFF_SECONDS": "5",
            "LOG_LEVEL": "INFO",
        }

    def state(self, *, user: str, nofile: int) -> dict[str, str]:
        """The state file's lines: what ``up`` was given, and where everything is."""
        urls = " ".join(f"http://127.0.0.1:{port}" for port in self.instance_ports)
        return {
            "TOPOLOGY_DIR": str(self.directory),
            "TOPOLOGY_USER": user,
            "TOPOLOGY_SERVICE_DIR": str(SERVICE_DIR),
            "TOPOLOGY_HTTP_PORT": str(self.http_port),
            "TOPOLOGY_INSTANCE_PORTS": " ".join(map(str, self.instance_ports)),
            "TOPOLOGY_METRICS_PORTS": " ".join(map(str, self.metrics_ports)),
            "TOPOLOGY_STATS_PORT": str(self.stats_port),
            "TOPOLOGY_REDIS_PORT": str(self.redis_port),
            "TOPOLOGY_RABBITMQ_PORT": str(self.rabbitmq_port),
            "TOPOLOGY_RABBITMQ_DIST_PORT": str(self.rabbitmq_dist_port),
            "TOPOLOGY_PG_PRIMARY_PORT": str(self.pg_primary_port),
            "TOPOLOGY_PG_REPLICA_PORT": str(self.pg_replica_port),
            "TOPOLOGY_DRAIN_DELAY_SECONDS": str(self.drain_delay_seconds),
            "TOPOLOGY_SERVER_MAX_CONNECTIONS": str(self.server_max_connections),
            "TOPOLOGY_BASE_URL": f"http://127.0.0.1:{self.http_port}",
            "TOPOLOGY_INSTANCE_URLS": urls,
            "TOPOLOGY_STATS_URL": f"http://127.0.0.1:{self.stats_port}/stats",
            "TOPOLOGY_STATS_SOCKET": str(self.stats_socket),
            "TOPOLOGY_APP_ENV": str(self.directory / "app.env"),
            "TOPOLOGY_PIDS": str(self.directory / "pids"),
            "TOPOLOGY_NOFILE": str(nofile),
            "TOPOLOGY_DATABASE_URL": self.database_url(self.pg_primary_port),
            "TOPOLOGY_DATABASE_READ_URL": self.database_url(self.pg_replica_port),
            "TOPOLOGY_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "TOPOLOGY_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{self.rabbitmq_port}/",
        }


def write_env_file(path: Path, values: Mapping[str, str], mode: int) -> None:
    """``KEY=value`` lines, quoting values with spaces (the state file's format)."""
    lines = (
        f'{key}="{value}"' if " " in value else f"{key}={value}" for key, value in values.items()
    )
    path.write_text("".join(f"{line}\n" for line in lines))
    os.chmod(path, mode)
