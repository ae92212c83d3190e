"""``python -m app.jobs.health``: the worker container's health check.

Exit 0 when the worker touched its heartbeat file (WORKER_HEARTBEAT_PATH) within
WORKER_HEARTBEAT_MAX_AGE_SECONDS; otherwise print why and exit 1. It reads a file's
age only, so it costs no broker or database connection every health-check interval.
"""

from __future__ import annotations

import sys
from pathlib import Path

from app.jobs.heartbeat import heartbeat_age_seconds
from app.settings import Settings


def check(path: Path, max_age_seconds: float, now: float | None = None) -> str | None:
    """None when healthy, else the reason."""
    age = heartbeat_age_seconds(path, now)
    if age is None:
        return (
            f"no worker heartbeat at {path}: the worker has not yet been able to "
            "consume from the broker (or WORKER_HEARTBEAT_PATH differs)"
        )
    if age > max_age_seconds:
        return (
            f"worker heartbeat {path} is {age:.0f}s old (limit {max_age_seconds:.0f}s): "
            "the worker cannot consume (broker unreachable?) or its loop has stopped"
        )
    return None


def main() -> None:
    settings = Settings()
    reason = check(Path(settings.worker_heartbeat_path), settings.worker_heartbeat_max_age_seconds)
    if reason is not None:
        print(f"unhealthy: {reason}", file=sys.stderr)  # noqa: T201
        sys.exit(1)
    print("healthy")  # noqa: T201


if __name__ == "__main__":
    main()
