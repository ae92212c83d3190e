"""A private RabbitMQ node on spare ports, with all its files in one directory.

Erlang nodes register with epmd (port 4369): the machine's epmd is used when one runs;
otherwise the node gets its own, started (and later stopped) beside it, so that no epmd
we caused outlives ``down``.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from topology import TopologyError, say
from topology.processes import KILLED_EXIT_SECONDS, Processes, listening, wait_until_gone

BIN = Path("/usr/lib/rabbitmq/bin")
EPMD_PORT = 4369


@dataclass(frozen=True, slots=True)
class Node:
    directory: Path
    port: int
    dist_port: int
    name: str  # e.g. my-service-topology-15673@localhost

    def prepare(self) -> None:
        (self.directory / "mnesia").mkdir(parents=True, exist_ok=True)
        (self.directory / "log").mkdir(parents=True, exist_ok=True)
        (self.directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\nloopback_users.guest = true\n"
        )
        (self.directory / "enabled_plugins").write_text("[].\n")
        (self.directory / "rabbitmq-env.conf").write_text("")

    def environment(self) -> dict[str, str]:
        """Every path and port of the node: nothing of the machine's own node is shared."""
        return {
            "HOME": str(self.directory),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.directory / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.directory / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.directory / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.directory / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(self.directory / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(self.directory / "pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def start(self, processes: Processes) -> None:
        if not (BIN / "rabbitmq-server").exists():
            raise TopologyError(
                f"no RabbitMQ server in {BIN}: make system-deps (installs rabbitmq-server)"
            )
        if not listening(EPMD_PORT):
            epmd = shutil.which("epmd") or max(glob.glob("/usr/lib/erlang/erts-*/bin/epmd"))
            processes.start("epmd", [epmd, "-address", "127.0.0.1"], env=os.environ)
            processes.wait_for_port("epmd", EPMD_PORT, 10)
        env = os.environ | self.environment()
        env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1}"
        processes.start("rabbitmq", [str(BIN / "rabbitmq-server")], env=env)
        processes.wait_for_port("rabbitmq", self.port, 60)

    def stop(self, processes: Processes) -> None:
        """Stop the node through rabbitmqctl; end whatever of it is left.

        Returns once the launcher, the Erlang VM and their helpers have exited and the
        node's AMQP and distribution ports refuse connections.
        """
        launcher = processes.pid("rabbitmq")
        if launcher is None or not processes.running("rabbitmq"):
            (processes.pid_dir / "rabbitmq.pid").unlink(missing_ok=True)
            return
        uid = processes.account.uid
        beam = _beam(self.directory / "pid", uid)  # read before the node deletes its pid file
        # rabbitmqctl stop waits until the node has stopped; the launcher script then exits.
        command = [str(BIN / "rabbitmqctl"), "-n", self.name, "stop", str(self.directory / "pid")]
        try:
            done = subprocess.run(
                command,
                env=os.environ | self.environment(),
                capture_output=True,
                timeout=30,
                check=False,
                **processes.account.popen_options(),
            )
            stopped = done.returncode == 0
        except subprocess.TimeoutExpired:  # a hung rabbitmqctl must not abort `down`
            stopped = False
        if not stopped:
            say("rabbitmqctl stop failed; ending the node's processes")
        deadline = time.monotonic() + 10
        while processes.running("rabbitmq") and time.monotonic() < deadline:
            time.sleep(0.1)
        # Never SIGTERM the launcher: its trap runs a `rabbitmqctl stop` of its own, which can
        # outlive it and stop the next node of the same name (start-broker). Whatever is left
        # of its process group (it leads its own session) is ours and ends at once.
        left = _process_group(launcher, uid) + beam
        for pid in left:
            _kill(pid)
        wait_until_gone(
            f"RabbitMQ node {self.name}",
            [launcher, *left],
            (self.port, self.dist_port),
            seconds=KILLED_EXIT_SECONDS,
        )
        (processes.pid_dir / "rabbitmq.pid").unlink(missing_ok=True)


def _process_group(group: int, uid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group and stat.parent.stat().st_uid == uid:
                members.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return members


def _beam(pid_file: Path, uid: int) -> list[int]:
    """The Erlang VM itself, should it outlive its launcher script."""
    try:
        pid = int(pid_file.read_text())
        return [pid] if Path(f"/proc/{pid}").stat().st_uid == uid else []
    except (OSError, ValueError):
        return []


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
