"""The production-like topology on one machine: ``up``, ``down``, ``status`` and the faults.

    HAProxy :18080 (health checks on /readyz, stats socket + page :18404)
      -> two instances (python -m app.server, Granian) :18001 :18002
    one worker (python -m app.jobs.worker) + the outbox relay in every process
    PostgreSQL primary :58432 + streaming replica :58433 (topology/postgres.py)
    its own redis-server :16380 and its own RabbitMQ node :15673

Everything it writes (data, logs, PID files, haproxy.cfg, topology.env) lives in
TOPOLOGY_DIR. It never stops a process it did not start. Run as root, the service
processes, Redis, RabbitMQ and HAProxy run as TOPOLOGY_USER (default ``tenfold``) and
PostgreSQL as ``postgres``; the service directory and its .venv must then be readable
by that user.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from topology import TopologyError, haproxy, redis, say
from topology.config import SERVICE_DIR, TopologyConfig, read_state, write_env_file
from topology.processes import Account, Processes, listening, raise_open_files_limit

PYTHON = SERVICE_DIR / ".venv" / "bin" / "python"
PATH = "/usr/local/bin:/usr/bin:/bin"
REQUIRED = {
    "haproxy": "make system-deps (installs haproxy)",
    "redis-server": "make system-deps (installs redis-server)",
}


class Topology:
    def __init__(self, config: TopologyConfig, account: Account, nofile: int = 1024) -> None:
        self.config = config
        self.account = account
        self.nofile = nofile
        self.processes = Processes(config.directory / "pids", config.directory / "logs", account)

    @classmethod
    def running(cls, environ: dict[str, str]) -> Topology:
        """The topology ``up`` started, with the ports and user it was given."""
        config = TopologyConfig.from_environment(environ)
        if not config.state_file.is_file():
            raise TopologyError(
                f"no topology in {config.directory}: run 'scripts/topology up' first"
            )
        state = read_state(config.state_file)
        config = TopologyConfig.from_environment(environ | state)
        topology = cls(config, Account(state["TOPOLOGY_USER"]), int(state["TOPOLOGY_NOFILE"]))
        raise_open_files_limit(topology.nofile)
        return topology

    # ------------------------------------------------------------------ commands

    def up(self) -> None:
        """Start everything; on any failure tear down what was started."""
        for command, install in REQUIRED.items():
            if not shutil.which(command):
                raise TopologyError(f"{command} not found: {install}")
        if self.config.state_file.exists():
            raise TopologyError(
                f"a topology already runs from {self.config.directory}: "
                "'scripts/topology down' first"
            )
        for port in self.config.all_ports:
            if listening(port):
                raise TopologyError(
                    f"port {port} is already in use: choose other TOPOLOGY_*_PORT values"
                )
        self._check_service_readable()
        try:
            self._up()
        except BaseException:
            say("up failed; tearing down what was started")
            try:
                self.down(quiet=True)
            except TopologyError as error:
                say(str(error))  # the failure of `up` stays the error reported
            raise

    def _up(self) -> None:
        config, directory = self.config, self.config.directory
        started = time.monotonic()
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        for name in ("pids", "logs", "redis", "home"):
            (directory / name).mkdir(exist_ok=True)
        config.rabbitmq().prepare()
        write_env_file(directory / "app.env", config.app_environment(secrets.token_hex(32)), 0o640)
        self.account.chown(
            *(directory / name for name in ("logs", "redis", "home", "rabbitmq", "app.env"))
        )
        # Twice what the settings need (app/limits.py): headroom for the worker and for bursts.
        raise_open_files_limit(4096)
        needed = self._service_python(["-m", "app.limits"], capture=True)
        self.nofile = int(needed) * 2
        raise_open_files_limit(self.nofile)
        write_env_file(
            config.state_file, config.state(user=self.account.name, nofile=self.nofile), 0o644
        )

        say(f"PostgreSQL primary :{config.pg_primary_port} + replica :{config.pg_replica_port}")
        config.pg_pair().up()
        say(f"redis-server :{config.redis_port}, RabbitMQ node {config.rabbitmq().name}")
        self._start_redis()
        config.rabbitmq().start(self.processes)
        say("migrations")
        self._service_python(["-m", "app.db.migrate"], log=directory / "logs" / "migrate.log")
        ports = " ".join(map(str, config.instance_ports))
        say(f"instances :{ports}, worker, HAProxy :{config.http_port} (open files: {self.nofile})")
        for n in range(1, len(config.instance_ports) + 1):
            self._start_instance(n)
        self._start_worker()
        self._start_haproxy()
        for n in range(1, len(config.instance_ports) + 1):
            haproxy.wait_backend(config.stats_socket, f"instance{n}", "UP", 30)
        say(f"up in {time.monotonic() - started:.0f}s; state in {config.state_file}")
        print(f"API:          http://127.0.0.1:{config.http_port} (no /docs: production)")  # noqa: T201
        metrics = " ".join(f"http://127.0.0.1:{port}/metrics" for port in config.metrics_ports)
        print(f"Metrics:      {metrics} (not behind HAProxy)")  # noqa: T201
        print(  # noqa: T201
            f"HAProxy stats: http://127.0.0.1:{config.stats_port}/stats  "
            f"socket: {config.stats_socket}"
        )
        print(f"Logs:         {directory / 'logs'}")  # noqa: T201
        print(config.state_file.read_text(), end="")  # noqa: T201

    def down(self, *, quiet: bool = False) -> None:
        """Stop what ``up`` started (by recorded PID) and delete its data.

        Returns once every process has exited and every port refuses connections. A
        server that will not go does not stop the others from being stopped; then the
        directory is kept (its PID files let a later ``down`` find what is left) and the
        error names what is still running.
        """
        config, directory = self.config, self.config.directory
        if not directory.is_dir():
            say(f"nothing to stop in {directory}")
            return
        instances = [name for name in self.processes.names() if name.startswith("instance")]
        steps: list[Callable[[], None]] = [
            lambda: self.processes.stop(
                "haproxy", wait_seconds=5, ports=(config.http_port, config.stats_port)
            ),
            lambda: self.processes.stop(
                "worker",
                *instances,
                wait_seconds=30,
                ports=(*config.instance_ports, *config.metrics_ports),
            ),
            lambda: config.rabbitmq().stop(self.processes),
            lambda: self.processes.stop("redis", wait_seconds=10, ports=(config.redis_port,)),
            # Not its port: a machine's epmd may take 4369 over once ours is gone.
            lambda: self.processes.stop("epmd", wait_seconds=5),
            lambda: config.pg_pair().down(),
        ]
        left = []
        for step in steps:
            try:
                step()
            except TopologyError as error:
                left.append(str(error))
        if left:
            raise TopologyError(
                f"down left servers running, so {directory} is kept: {'; '.join(left)}. "
                "Run 'scripts/topology down' again, or end those PIDs yourself."
            )
        shutil.rmtree(directory, ignore_errors=True)
        if not quiet:
            say(f"stopped and removed {directory}")

    def status(self) -> list[str]:
        lines = [
            f"{name}: running (PID {self.processes.pid(name)})"
            if self.processes.running(name)
            else f"{name}: stopped"
            for name in self.processes.names()
        ]
        pair = self.config.pg_pair().status()
        lines += [f"postgres {node}: {'running' if up else 'stopped'}" for node, up in pair.items()]
        backends = haproxy.backend_status(self.config.stats_socket)
        lines += [f"haproxy {server} {status}" for server, status in backends.items()]
        return lines

    def restart_instance(self, n: int) -> None:
        """SIGTERM instance ``n``, wait for its drain, start it again, wait until HAProxy has it.

        On SIGTERM the instance fails /readyz for DRAIN_DELAY_SECONDS, HAProxy takes it out,
        then it closes its listener and finishes in-flight requests.
        """
        count = len(self.config.instance_ports)
        if not 1 <= n <= count:
            raise TopologyError(f"no instance {n} (instances: 1..{count})")
        started = time.monotonic()
        self.processes.stop(f"instance{n}", wait_seconds=40, ports=self._instance_ports(n))
        self._start_instance(n)
        haproxy.wait_backend(self.config.stats_socket, f"instance{n}", "UP", 30)
        say(f"instance{n} restarted in {time.monotonic() - started:.0f}s")

    def restart_redis(self) -> None:
        self.processes.stop("redis", wait_seconds=10, ports=(self.config.redis_port,))
        self._start_redis()

    def stop_broker(self) -> None:
        self.config.rabbitmq().stop(self.processes)

    def start_broker(self) -> None:
        if not self.processes.running("rabbitmq"):
            self.config.rabbitmq().start(self.processes)

    # ------------------------------------------------------------------ components

    def _app_env(self) -> dict[str, str]:
        app = read_state(self.config.directory / "app.env")
        return {"PATH": PATH, "HOME": str(self.config.directory / "home"), **app}

    def _service_python(
        self, args: list[str], *, capture: bool = False, log: Path | None = None
    ) -> str:
        """The service's Python as the service user, with the topology's environment only."""
        output = log.open("wb") if log else None
        try:
            done = subprocess.run(
                [str(PYTHON), *args],
                cwd=SERVICE_DIR,
                env=self._app_env(),
                stdout=subprocess.PIPE if capture else output,
                stderr=subprocess.STDOUT if output else None,
                text=True,
                check=False,
                **self.account.popen_options(),
            )
        finally:
            if output:
                output.close()
        if done.returncode != 0:
            where = f"; see {log}" if log else ""
            raise TopologyError(f"`python {' '.join(args)}` failed{where}")
        return done.stdout or ""

    def _instance_ports(self, n: int) -> tuple[int, int]:
        """Instance ``n``'s port and its metrics port."""
        return self.config.instance_ports[n - 1], self.config.metrics_ports[n - 1]

    def _start_instance(self, n: int) -> None:
        port, metrics_port = self._instance_ports(n)
        name = f"instance{n}"
        env = self._app_env() | {"PORT": str(port), "METRICS_PORT": str(metrics_port)}
        self.processes.start(name, [str(PYTHON), "-m", "app.server"], env=env, cwd=SERVICE_DIR)
        self.processes.wait_for_port(name, port, 60)

    def _start_worker(self) -> None:
        command = [str(PYTHON), "-m", "app.jobs.worker"]
        self.processes.start("worker", command, env=self._app_env(), cwd=SERVICE_DIR)
        time.sleep(0.5)
        if not self.processes.running("worker"):
            raise TopologyError(
                f"the worker exited at once; see {self.config.directory}/logs/worker.log"
            )

    def _start_redis(self) -> None:
        command = redis.server_command(
            self.config.redis_port,
            self.config.directory / "redis",
            keep_data=True,
            max_clients=self.nofile - 64,
        )
        self.processes.start("redis", command, env=os.environ)
        self.processes.wait_for_port("redis", self.config.redis_port, 20)

    def _start_haproxy(self) -> None:
        config = self.config
        (config.directory / "haproxy").mkdir(exist_ok=True)
        haproxy.render(
            config.directory / "haproxy.cfg",
            directory=config.directory,
            http_port=config.http_port,
            stats_port=config.stats_port,
            instance_ports=config.instance_ports,
            server_max_connections=config.server_max_connections,
            drain_delay_seconds=config.drain_delay_seconds,
        )
        self.account.chown(config.directory / "haproxy")
        command = ["haproxy", "-db", "-f", str(config.directory / "haproxy.cfg")]
        self.processes.start("haproxy", command, env=os.environ)
        self.processes.wait_for_port("haproxy", config.http_port, 10)

    def _check_service_readable(self) -> None:
        if not PYTHON.exists():
            raise TopologyError(f"{PYTHON} is missing: run 'make install' first")
        if os.geteuid() != 0:
            return
        user = self.account.name
        if not self.account.can("-r", SERVICE_DIR / "app" / "server.py"):
            raise TopologyError(
                f"user {user} cannot read {SERVICE_DIR}{self._blocker(SERVICE_DIR)}: render the "
                "service into a directory others can enter (chmod o+rx its parents), or set "
                "TOPOLOGY_USER"
            )
        interpreter = PYTHON.resolve()
        if not self.account.can("-x", interpreter):
            raise TopologyError(
                f"user {user} cannot run the .venv's interpreter {interpreter}"
                f"{self._blocker(interpreter)}: recreate .venv with a system Python, e.g. "
                "'rm -rf .venv && UV_PYTHON=/usr/bin/python3 make install'"
            )

    def _blocker(self, path: Path) -> str:
        """The first directory on the way to ``path`` the service user cannot enter, if any."""
        blockers = [parent for parent in path.parents if not self.account.can("-x", parent)]
        if not blockers:
            return ""
        blocker = blockers[-1]  # the one nearest the root: opening it is the first fix
        return f" ({blocker} is mode {blocker.stat().st_mode & 0o7777:o})"
