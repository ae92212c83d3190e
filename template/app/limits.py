"""How many open files one service process needs for its configured connection counts.

Every client connection, pooled database connection and Redis connection is a file
descriptor. A process whose open-files limit (``ulimit -n``, RLIMIT_NOFILE) is below
what its settings allow fails under load with "Too many open files" on accept() or
connect(), long after deployment looked fine. The formula, per service instance::

    2 * SERVER_MAX_CONNECTIONS                                  client sockets, plus at most
                                                                one Redis connection each
    + (DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW) * (1 + replicas)   database pools
    + RESERVED_FILES                                            listener, broker, logs, stdio

``python -m app.limits`` prints the number for the current environment; the local
topology sets the limit from it and ``tests/host`` checks every running process.
"""

from __future__ import annotations

import resource
import sys

from app.settings import Settings

RESERVED_FILES = 64


def required_open_files(settings: Settings) -> int:
    """The open-files limit one instance (or worker) with ``settings`` needs at least."""
    database = (settings.database_pool_size + settings.database_max_overflow) * (
        1 + len(settings.database_read_urls)
    )
    return 2 * settings.server_max_connections + database + RESERVED_FILES


def open_files_limit() -> int:
    """This process's soft RLIMIT_NOFILE (what accept() and connect() run into)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else sys.maxsize


def main() -> None:
    sys.stdout.write(f"{required_open_files(Settings())}\n")


if __name__ == "__main__":
    main()
