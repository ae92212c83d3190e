"""Where the running topology is: its state file, written by ``scripts/topology up``.

The fault run and the host checks read ports, URLs and directories from
``$TOPOLOGY_DIR/topology.env`` (default ``/tmp/<project>-topology``). Without a running
topology they skip with the reason; when they were asked for (``make test-faults`` and
``make test-host`` set TOPOLOGY_REQUIRED=1) under CI=true they fail instead, so CI can
never pass by skipping them.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVICE_ROOT = Path(__file__).resolve().parents[2]


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").lower() in {"1", "true", "yes"}


def default_topology_dir() -> Path:
    with (SERVICE_ROOT / "pyproject.toml").open("rb") as handle:
        slug = tomllib.load(handle)["project"]["name"]
    return Path(os.environ.get("TOPOLOGY_DIR") or f"/tmp/{slug}-topology")  # noqa: S108


def parse_state(text: str) -> dict[str, str]:
    """``KEY=value`` lines (values may be double-quoted), as the script writes them."""
    state: dict[str, str] = {}
    for line in text.splitlines():
        match = re.fullmatch(r"([A-Z_][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            state[match[1]] = match[2].removeprefix('"').removesuffix('"')
    return state


@dataclass(frozen=True, slots=True)
class Topology:
    state: dict[str, str]

    @property
    def directory(self) -> Path:
        return Path(self.state["TOPOLOGY_DIR"])

    @property
    def base_url(self) -> str:
        return self.state["TOPOLOGY_BASE_URL"]

    @property
    def instance_ports(self) -> list[int]:
        return [int(port) for port in self.state["TOPOLOGY_INSTANCE_PORTS"].split()]

    @property
    def metrics_urls(self) -> list[str]:
        """Each instance's /metrics, on its METRICS_PORT (HAProxy never routes there)."""
        ports = self.state.get("TOPOLOGY_METRICS_PORTS", "").split()
        return [f"http://127.0.0.1:{port}/metrics" for port in ports]

    @property
    def database_url(self) -> str:
        """The primary, as a plain libpq URL (asyncpg, psql)."""
        return self.state["TOPOLOGY_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")

    @property
    def script(self) -> Path:
        return Path(self.state["TOPOLOGY_SERVICE_DIR"]) / "scripts" / "topology"


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason``; fail instead when CI asked for the topology tests."""
    if _truthy("CI") and _truthy("TOPOLOGY_REQUIRED"):
        pytest.fail(f"CI=true and the topology tests were asked for, but {reason}")
    pytest.skip(reason)


def running_topology() -> Topology:
    """The running topology's state, or skip (fail in CI) saying how to start one."""
    path = default_topology_dir() / "topology.env"
    if not path.is_file():
        skip_or_fail(f"no running topology ({path} not found): run `make topology-up` first")
    return Topology(parse_state(path.read_text()))
