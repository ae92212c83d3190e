"""The production server: ``python -m app.server`` runs Hypercorn on uvloop.

Hypercorn speaks HTTP/1.1 and HTTP/2 (h2c behind the load balancer) on one port.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, cast

from hypercorn.asyncio import serve
from hypercorn.config import Config

from app.main import create_app
from app.settings import Settings

if TYPE_CHECKING:
    from hypercorn.typing import Framework


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    # Inside a container the port must be reachable from outside it.
    config.bind = [f"0.0.0.0:{settings.port}"]
    config.accesslog = "-"
    config.errorlog = "-"
    return config


def main() -> None:
    settings = Settings()
    app = cast("Framework", create_app(settings))
    server = serve(app, hypercorn_config(settings))
    if sys.platform != "win32":
        import uvloop  # noqa: PLC0415 - not installed on Windows

        uvloop.run(server)
    else:
        asyncio.run(server)


if __name__ == "__main__":
    main()
