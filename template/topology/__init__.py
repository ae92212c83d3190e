"""The local servers the service runs on, started and stopped by one program.

``scripts/topology`` (the production-like topology: HAProxy, instances, worker, PostgreSQL
primary + replica, Redis, RabbitMQ), ``scripts/pg-pair`` (just the PostgreSQL pair, for the
integration tests) and the template's CI and benchmarks all run this package. It needs
only the standard library, so it runs before ``make install`` as well as after:
``python3 -m topology --help`` from the service's directory lists every command.
"""

import sys


def say(message: str) -> None:
    """Progress and warnings go to stderr; stdout carries only what a caller may parse."""
    print(f"topology: {message}", file=sys.stderr, flush=True)  # noqa: T201


class TopologyError(RuntimeError):
    """A step failed; the message says what went wrong and how to fix it."""
