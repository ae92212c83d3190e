"""How the service's processes run: on uvloop where available, until a stop signal.

The production server (``app.server``) and the job worker (``app.jobs.worker``) are both
long-running asyncio processes that orchestrators stop with SIGTERM (and people with Ctrl-C).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Coroutine
from typing import Any


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop (faster I/O), or asyncio's own loop where uvloop is missing."""
    if sys.platform != "win32":
        import uvloop  # noqa: PLC0415 - not installed on Windows

        uvloop.run(main)
    else:
        asyncio.run(main)


def stop_requested_by_signals() -> asyncio.Event:
    """An event set on SIGTERM or SIGINT; call it from inside the running loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
