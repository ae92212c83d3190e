"""The worker's heartbeat file: touched while the worker can consume, read by its health check.

A worker whose broker connection is gone, or whose loop has died, keeps its process
alive (it backs off and retries), so the orchestrator cannot tell it is useless. The
heartbeat makes that visible: ``python -m app.jobs.health`` (the container health
check) fails once the file is older than WORKER_HEARTBEAT_MAX_AGE_SECONDS, and ECS
replaces the task. A separate task touches it, so a long job does not look like a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)


class Heartbeat:
    def __init__(
        self,
        path: Path,
        *,
        alive: Callable[[], bool],
        interval_seconds: float = 5.0,
    ) -> None:
        self.path = path
        self._alive = alive
        self._interval_seconds = interval_seconds

    def beat(self) -> None:
        self.path.touch()

    async def run(self, stop: asyncio.Event) -> None:
        """Touch the file every ``interval_seconds`` while ``alive()`` says so."""
        while not stop.is_set():
            if self._alive():
                try:
                    self.beat()
                except OSError as error:
                    logger.warning("worker heartbeat: cannot touch %s: %r", self.path, error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval_seconds)


def heartbeat_age_seconds(path: Path, now: float | None = None) -> float | None:
    """Seconds since ``path`` was last touched; None if it does not exist."""
    try:
        modified = path.stat().st_mtime
    except FileNotFoundError:
        return None
    return max(0.0, (time.time() if now is None else now) - modified)
