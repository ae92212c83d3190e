"""redis-server command lines: one for a private server on a spare port."""

from __future__ import annotations

from pathlib import Path


def server_command(
    port: int, data_dir: Path, *, keep_data: bool, max_clients: int | None = None
) -> list[str]:
    """redis-server in the foreground on 127.0.0.1:``port``.

    ``keep_data`` snapshots on shutdown, so a restart keeps refresh tokens as a persistent
    Redis would (the topology's restart-redis fault); otherwise nothing is written.
    """
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data_dir)]
    command += ["--save", "3600 1" if keep_data else "", "--appendonly", "no"]
    command += ["--daemonize", "no", "--protected-mode", "yes"]
    if max_clients is not None:
        command += ["--maxclients", str(max_clients)]
    return command
