"""A PostgreSQL primary with a streaming hot-standby replica, from the machine's binaries.

Integration tests and the topology need a real replica to prove replica routing,
read-your-writes and replica fail-over. Both clusters live in one directory and run as
the ``postgres`` user when we are root (PostgreSQL refuses to run as root). They are
tuned for tests, not durability: fsync off, full_page_writes off.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from topology import TopologyError
from topology.processes import Account, listening, wait_until_gone

PRIMARY_CONF = """
# pg-pair: primary tuned for tests, not durability
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{directory}'
wal_level = replica
max_wal_senders = 5
max_replication_slots = 5
hot_standby = on
fsync = off
# synchronous_commit stays on, as on RDS: a commit's WAL is flushed (fsync is off, so that is
# cheap) and streamed at once, and read-your-writes tokens use the flushed position.
full_page_writes = off
max_connections = 200
shared_preload_libraries = 'pg_stat_statements'
"""
REPLICA_CONF = """
# pg-pair: streaming hot standby
port = {port}
hot_standby_feedback = on
"""
NODES = ("primary", "replica")


@functools.cache
def server_bindir() -> Path:
    """Where initdb and pg_ctl are: pg_config's bindir, else the newest /usr/lib/postgresql/*."""
    if shutil.which("pg_config"):
        bindir = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if bindir and (Path(bindir) / "initdb").exists():
            return Path(bindir)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: [int(part) for part in re.findall(r"\d+", path)],
    )
    if not candidates:
        raise TopologyError(
            "no PostgreSQL server binaries found (looked for pg_config and "
            "/usr/lib/postgresql/*/bin/initdb); install them with 'make system-deps' "
            "(Debian package postgresql)"
        )
    return Path(candidates[-1]).parent


@dataclass(frozen=True, slots=True)
class PgPair:
    directory: Path
    primary_port: int = 55432
    replica_port: int = 55433
    database: str = "app"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> PgPair:
        """PG_PAIR_DIR, PG_PAIR_PRIMARY_PORT, PG_PAIR_REPLICA_PORT, PG_PAIR_DATABASE."""
        return cls(
            Path(environ.get("PG_PAIR_DIR") or "/tmp/tenfold-pg-pair"),  # noqa: S108
            int(environ.get("PG_PAIR_PRIMARY_PORT") or 55432),
            int(environ.get("PG_PAIR_REPLICA_PORT") or 55433),
            environ.get("PG_PAIR_DATABASE") or "app",
        )

    # ------------------------------------------------------------------ commands

    def up(self) -> None:
        """Create (if needed) and start both; return once the replica streams."""
        self._prepare_directory()
        if not (self.directory / "primary" / "PG_VERSION").exists():
            self._init_primary()
        self._start("primary")
        # PG_PAIR_DATABASE is the developer's own setting, not outside input.
        query = f"select count(*) from pg_database where datname = '{self.database}'"  # noqa: S608
        if self._sql(self.primary_port, query) == "0":
            self._sql(self.primary_port, f'create database "{self.database}"')
        if not (self.directory / "replica" / "PG_VERSION").exists():
            self._init_replica()
        self._start("replica")
        self.wait_streaming()

    def down(self) -> None:
        """Stop both and delete their data (kept if a server will not stop)."""
        for node in reversed(NODES):
            if (self.directory / node).is_dir() and self.is_running(node):
                self.stop(node)
        shutil.rmtree(self.directory, ignore_errors=True)

    def stop_replica(self) -> None:
        self.stop("replica")

    def stop(self, node: str) -> None:
        """Fast shutdown of ``node``; returns once its postmaster has exited and its port
        refuses connections (pg_ctl returns when the PID file is gone, a moment before)."""
        postmaster = self._postmaster_pid(node)
        self._pg_ctl(node, "stop", "-m", "fast")
        port = self.primary_port if node == "primary" else self.replica_port
        pids = [postmaster] if postmaster is not None else []
        wait_until_gone(f"the PostgreSQL {node} on port {port}", pids, (port,))

    def start_replica(self) -> None:
        self._start("replica")
        self.wait_streaming()

    def status(self) -> dict[str, bool]:
        return {node: (self.directory / node).is_dir() and self.is_running(node) for node in NODES}

    def urls(self) -> dict[str, str]:
        """The TEST_* variables the integration tests read."""
        base = "postgresql+asyncpg://postgres@127.0.0.1"
        return {
            "TEST_DATABASE_URL": f"{base}:{self.primary_port}/{self.database}",
            "TEST_DATABASE_READ_URLS": f"{base}:{self.replica_port}/{self.database}",
        }

    # ------------------------------------------------------------------ steps

    def is_running(self, node: str) -> bool:
        return self._pg_ctl(node, "status", check=False) == 0

    def _postmaster_pid(self, node: str) -> int | None:
        """The first line of postmaster.pid, while the server runs."""
        try:
            return int((self.directory / node / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def wait_streaming(self, seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        query = "select count(*) from pg_stat_replication where state = 'streaming'"
        while time.monotonic() < deadline:
            in_recovery = self._sql(self.replica_port, "select pg_is_in_recovery()", check=False)
            streaming = self._sql(self.primary_port, query, check=False)
            if in_recovery == "t" and streaming.isdigit() and int(streaming) >= 1:
                return
            time.sleep(0.2)
        raise TopologyError(
            f"the replica on port {self.replica_port} did not start streaming within "
            f"{seconds:g} s; see {self.directory}/replica.log"
        )

    def _prepare_directory(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        _owner().chown(self.directory)
        self.directory.chmod(0o700)

    def _init_primary(self) -> None:
        data = self.directory / "primary"
        initdb = [str(server_bindir() / "initdb"), "-D", str(data), "-U", "postgres"]
        initdb += ["-A", "trust", "-E", "UTF8"]
        # C.UTF-8 where the C library has it, plain C otherwise.
        if self._as_owner([*initdb, "--locale=C.UTF-8"], check=False) != 0:
            self._as_owner([*initdb, "--locale=C"])
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(PRIMARY_CONF.format(port=self.primary_port, directory=self.directory))
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")

    def _init_replica(self) -> None:
        data = self.directory / "replica"
        self._as_owner(
            [str(server_bindir() / "pg_basebackup"), "-h", "127.0.0.1",
             "-p", str(self.primary_port), "-U", "postgres", "-D", str(data),
             "--checkpoint=fast", "-X", "stream", "-R", "-C", "-S", "pg_pair_replica"]
        )  # fmt: skip
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(REPLICA_CONF.format(port=self.replica_port))

    def _start(self, node: str) -> None:
        if self.is_running(node):
            return
        port = self.primary_port if node == "primary" else self.replica_port
        if listening(port):
            # Another pair or server holds the port; pg_ctl would only say "failed to start".
            raise TopologyError(
                f"port {port} for the {node} is already in use by another server: stop it, "
                "or choose other PG_PAIR_PRIMARY_PORT/PG_PAIR_REPLICA_PORT values"
            )
        if self._pg_ctl(node, "start", check=False) != 0:
            raise TopologyError(f"the {node} failed to start; see {self.directory}/{node}.log")

    def _pg_ctl(self, node: str, *args: str, check: bool = True) -> int:
        command = [str(server_bindir() / "pg_ctl"), "-D", str(self.directory / node)]
        if args[0] != "status":
            command += ["-l", str(self.directory / f"{node}.log"), "-w", "-t", "60"]
        return self._as_owner([*command, *args], check=check)

    def _as_owner(self, command: list[str], *, check: bool = True) -> int:
        done = subprocess.run(
            command, capture_output=True, text=True, check=False, **_owner().popen_options()
        )
        if check and done.returncode != 0:
            raise TopologyError(
                f"`{' '.join(command)}` exited {done.returncode}:\n"
                f"{(done.stdout + done.stderr)[-2000:]}"
            )
        return done.returncode

    def _sql(self, port: int, query: str, *, check: bool = True) -> str:
        done = subprocess.run(
            [str(server_bindir() / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
             "-d", "postgres", "-XAtq", "-c", query],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise TopologyError(f"psql on port {port} failed: {done.stderr.strip()}")
        return done.stdout.strip()


def _owner() -> Account:
    """``postgres`` when we are root (PostgreSQL refuses root), else ourselves."""
    if os.geteuid() != 0:
        return Account.current()
    account = Account("postgres")
    if not account.exists():
        raise TopologyError("running as root but there is no 'postgres' user to own the clusters")
    return account
