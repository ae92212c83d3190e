"""The ceiling ``make bench`` measures the service against: a bare FastAPI app.

    PORT=18482 python -m bench.ceiling

One route that answers what the service's ``/healthz`` answers, with no middleware,
settings or dependencies, served by the production server (``app.server``: same server,
event loop and drain). Run with as many processes as the service, on the same machine,
its req/s is what FastAPI on this server can do at most; every scenario is reported as
a share of it, so what the service adds to each request is visible as a number.
"""

from __future__ import annotations

from fastapi import FastAPI

from app import event_loop
from app.lifecycle import Lifecycle
from app.server import serve_until_drained
from app.settings import Settings


def create_ceiling_app() -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.lifecycle = Lifecycle()  # the server's drain sets it

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    event_loop.run(serve_until_drained(Settings(), create_ceiling_app()))


if __name__ == "__main__":
    main()
