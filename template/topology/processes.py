"""Background processes remembered by PID file, so a later command stops exactly them.

``up`` starts a process and writes its PID to ``pids/<name>.pid``; ``down`` or a fault
verb, run later as another program, reads it back. A PID counts only while its process
is alive and owned by the account it was started as, so a recycled PID of someone
else's process is never signalled. Run as root, the processes run as an unprivileged
account: the service never runs as root.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from topology import TopologyError, say

# How long a SIGKILLed process may take to exit and release its ports. SIGKILL cannot be
# caught, but on a loaded machine the dying process must still be scheduled to exit.
KILLED_EXIT_SECONDS = 10.0


def listening(port: int) -> bool:
    """Something accepts TCP connections on 127.0.0.1:``port``."""
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for_port(port: int, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not listening(port):
        if time.monotonic() > deadline:
            raise TopologyError(f"{what} is not listening on 127.0.0.1:{port} after {seconds:g} s")
        time.sleep(0.1)


def spare_port() -> int:
    """A TCP port nothing on 127.0.0.1 uses right now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def wait_until_gone(
    what: str, pids: Collection[int], ports: Collection[int] = (), *, seconds: float = 10
) -> None:
    """Return once every process in ``pids`` has exited and every port in ``ports`` refuses.

    A stop is over only when both hold: the next request must meet a refused connection,
    not a server still dying, nor a child that inherited the listening socket. Our own
    exited children are reaped; another's exited process counts once it is a zombie (it
    holds no port or file; only its parent can remove it from the process table).
    Raises TopologyError naming ``what`` if that does not happen within ``seconds``.
    """
    deadline = time.monotonic() + seconds
    while True:
        running = [pid for pid in pids if _alive(pid)]
        accepting = [port for port in ports if listening(port)]
        if not running and not accepting:
            return
        if time.monotonic() >= deadline:
            left = [f"PID {' '.join(map(str, running))} still running"] if running else []
            left += [f"127.0.0.1:{port} still accepts connections" for port in accepting]
            raise TopologyError(f"{what} did not stop within {seconds:g} s: {'; '.join(left)}")
        time.sleep(0.02)


def stop_child(
    what: str,
    process: subprocess.Popen[bytes],
    ports: Collection[int] = (),
    *,
    seconds: float = KILLED_EXIT_SECONDS,
) -> None:
    """SIGKILL ``process`` (our child); return once it is reaped and ``ports`` refuse."""
    if process.poll() is None:
        process.kill()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        raise TopologyError(
            f"{what} (PID {process.pid}) did not exit within {seconds:g} s of SIGKILL"
        ) from None
    wait_until_gone(what, (), ports, seconds=seconds)


def raise_open_files_limit(nofile: int) -> None:
    """Set this process's open-files limit, which every process it starts inherits."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = hard == resource.RLIM_INFINITY
    if os.geteuid() == 0:
        hard = hard if unlimited else max(hard, nofile)
    elif not unlimited and nofile > hard:
        raise TopologyError(
            f"cannot raise the open-files limit to {nofile} (hard limit: {hard}); "
            "raise it in /etc/security/limits.conf"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))


@dataclass(frozen=True, slots=True)
class Account:
    """Who started processes run as. Only root switches: anyone else runs them as themselves."""

    name: str

    @classmethod
    def current(cls) -> Account:
        return cls(pwd.getpwuid(os.geteuid()).pw_name)

    @classmethod
    def service(cls, name_when_root: str) -> Account:
        """``name_when_root`` when we are root (created if missing), else the current user."""
        if os.geteuid() != 0:
            return cls.current()
        account = cls(name_when_root)
        if not account.exists():
            say(
                f"creating system user {account.name} (owns the topology's processes; "
                "the service never runs as root)"
            )
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                 "--shell", "/usr/sbin/nologin", account.name],
                check=True,
            )  # fmt: skip
        return account

    def exists(self) -> bool:
        try:
            pwd.getpwnam(self.name)
        except KeyError:
            return False
        return True

    @property
    def uid(self) -> int:
        """The account's uid; -1 (owns no process) if it does not exist."""
        try:
            return pwd.getpwnam(self.name).pw_uid
        except KeyError:
            return -1

    def popen_options(self) -> dict[str, Any]:
        """subprocess options that run a command as this account (with its groups)."""
        if os.geteuid() == self.uid:
            return {}
        entry = pwd.getpwnam(self.name)
        return {
            "user": entry.pw_uid,
            "group": entry.pw_gid,
            "extra_groups": os.getgrouplist(self.name, entry.pw_gid),
        }

    def can(self, test: str, path: Path) -> bool:
        """``test -r`` / ``test -x`` on ``path`` as this account."""
        done = subprocess.run(["test", test, str(path)], check=False, **self.popen_options())
        return done.returncode == 0

    def chown(self, *paths: Path) -> None:
        """Give ``paths`` (recursively) to this account, when we are root."""
        if os.geteuid() != 0:
            return
        entry = pwd.getpwnam(self.name)
        for top in paths:
            for path in [top, *(top.rglob("*") if top.is_dir() else [])]:
                os.chown(path, entry.pw_uid, entry.pw_gid)


def _alive(pid: int) -> bool:
    """Running, not a zombie; reaps it if it is our own exited child."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def owner_of(pid: int) -> int | None:
    try:
        return Path(f"/proc/{pid}").stat().st_uid
    except OSError:
        return None


@dataclass(frozen=True, slots=True)
class Processes:
    """The processes of one run: PID files in ``pid_dir``, one log per process in ``log_dir``."""

    pid_dir: Path
    log_dir: Path
    account: Account

    def start(
        self, name: str, command: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None
    ) -> int:
        """Start ``command`` in its own session (Ctrl-C reaches only us), as ``account``."""
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                list(command),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **self.account.popen_options(),
            )
        (self.pid_dir / f"{name}.pid").write_text(f"{process.pid}\n")
        return process.pid

    def pid(self, name: str) -> int | None:
        try:
            return int((self.pid_dir / f"{name}.pid").read_text())
        except (OSError, ValueError):
            return None

    def names(self) -> list[str]:
        return sorted(path.stem for path in self.pid_dir.glob("*.pid"))

    def running(self, name: str) -> bool:
        """Alive and still the process we started, not a recycled PID."""
        pid = self.pid(name)
        return pid is not None and _alive(pid) and owner_of(pid) == self.account.uid

    def log_tail(self, name: str, lines: int = 5) -> str:
        try:
            text = (self.log_dir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_for_port(self, name: str, port: int, seconds: float) -> None:
        """Until ``name`` listens on ``port``; fails at once if it exits."""
        deadline = time.monotonic() + seconds
        while not listening(port):
            if not self.running(name):
                raise TopologyError(
                    f"{name} exited while starting; see {self.log_dir / name}.log:\n"
                    f"{self.log_tail(name)}"
                )
            if time.monotonic() > deadline:
                raise TopologyError(
                    f"{name} did not listen on port {port} within {seconds:g} s; "
                    f"see {self.log_dir / name}.log"
                )
            time.sleep(0.1)

    def stop(self, *names: str, wait_seconds: float = 10, ports: Collection[int] = ()) -> None:
        """SIGTERM every one at once, SIGKILL whatever is left after ``wait_seconds``.

        Returns once every one has exited and ``ports`` (what they listened on) refuse
        connections; raises TopologyError naming them otherwise, keeping their PID files
        so that a later ``down`` still finds them.
        """
        pids = {}
        for name in names:
            pid = self.pid(name)
            if pid is not None and self.running(name):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                pids[name] = pid
        deadline = time.monotonic() + wait_seconds
        while any(_alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        for name, pid in pids.items():
            if _alive(pid):
                say(f"{name} (PID {pid}) did not stop within {wait_seconds:g} s; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        what = ", ".join(f"{name} (PID {pid})" for name, pid in pids.items()) or ", ".join(names)
        wait_until_gone(what, pids.values(), ports, seconds=KILLED_EXIT_SECONDS)
        for name in names:
            (self.pid_dir / f"{name}.pid").unlink(missing_ok=True)
