"""CPU milliseconds per request, in process, for the hot routes: ``python -m bench.cpu``.

wrk on a shared two-core machine measures the neighbours as much as the service. This
calls the app as the server would (one ASGI call per request, no sockets) on a migrated
SQLite copy with the in-memory cache, and reports the best of ``--rounds`` rounds of
``--requests`` requests, in process CPU time: what a code change costs or saves per
request, quiet machine or not. Run it on two checkouts, interleaved, to compare them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from pathlib import Path

import orjson
from alembic import command
from alembic.config import Config
from asgi_lifespan import LifespanManager
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Scope

from app.main import create_app
from app.repositories import items, users
from app.settings import Settings
from bench.ceiling import create_ceiling_app

SERVICE_ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-cpu-secret-" + "0123456789abcdef" * 4


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _drop(message: Message) -> None:
    return None


def _scope(path: str, headers: dict[str, str]) -> Scope:
    route, _, query = path.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(b"host", b"bench")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }


async def _cpu_ms(app: ASGIApp, path: str, headers: dict[str, str], requests: int) -> float:
    started = time.process_time()
    for _ in range(requests):
        await app(_scope(path, headers), _receive, _drop)
    return (time.process_time() - started) * 1000 / requests


async def measure(url: str, rounds: int, requests: int) -> dict[str, float]:
    settings = Settings(_env_file=None, database_url=url, jwt_secret_key=SecretStr(SECRET))
    app = create_app(settings)
    async with LifespanManager(app):
        resources = app.state.resources
        async with resources.session_factory() as session:
            owner = await users.create_user(session, "cpu@example.com", "unused-hash")
            for number in range(150):
                fields = {"name": f"Item {number}", "status": "published", "price_cents": 100}
                fields["description"] = "A fine item for the bench. " * 8
                item = await items.create_item(session, owner.id, fields)
            await session.commit()
        token = resources.access_tokens.issue(owner.id, "bench-family")
        first = await _first_cursor(app)
        scenarios = {
            "hello-ceiling": (create_ceiling_app(), "/healthz", {}),
            "healthz": (app, "/healthz", {}),
            "item-read-cached": (
                app,
                f"/api/v1/items/{item.id}",
                {"Authorization": f"Bearer {token}"},
            ),
            "list-first-page": (app, "/api/v1/items?limit=20", {}),
            "list-payload-brotli": (app, "/api/v1/items?limit=100", {"Accept-Encoding": "br"}),
            "list-keyset-first": (
                app,
                f"/api/v1/items?limit=100&cursor={first}",
                {"Accept-Encoding": "br"},
            ),
        }
        best = {name: float("inf") for name in scenarios}
        for _ in range(rounds):  # interleaved: a noisy moment hits every scenario alike
            for name, (target, path, headers) in scenarios.items():
                count = requests // 10 if name == "list-keyset-first" else requests
                best[name] = min(best[name], await _cpu_ms(target, path, headers, count))
        return best


async def _first_cursor(app: ASGIApp) -> str:
    """The cursor after the newest item: the keyset path, uncached, from the first row."""
    body = bytearray()

    async def keep(message: Message) -> None:
        body.extend(message.get("body", b""))

    await app(_scope("/api/v1/items?limit=1", {}), _receive, keep)
    return str(orjson.loads(body)["next_cursor"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args(argv)
    # Every request still writes its access log line, as in production, to /dev/null.
    with (
        tempfile.TemporaryDirectory() as directory,
        open(os.devnull, "w") as devnull,
        contextlib.redirect_stdout(devnull),
    ):
        url = f"sqlite+aiosqlite:///{directory}/bench.db"
        config = Config(SERVICE_ROOT / "alembic.ini")
        config.attributes["database_url"] = url
        config.attributes["configure_logger"] = False
        command.upgrade(config, "head")  # Alembic runs its own event loop: before ours
        best = asyncio.run(measure(url, args.rounds, args.requests))
    print(f"load average {os.getloadavg()[0]:.2f}; best of {args.rounds} rounds, CPU ms/request")  # noqa: T201
    for name, ms in best.items():
        print(f"{name:24} {ms:7.3f}")  # noqa: T201


if __name__ == "__main__":
    main()
