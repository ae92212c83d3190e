"""Practice 3 and 4 on the real production server (`python -m app.server`, a subprocess).

SIGTERM drain: /readyz fails first while the server still serves, the request already in
flight completes, then the process exits 0. HTTP/2: the server speaks h2c.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, SERVICE_ROOT, TEST_JWT_SECRET_KEY
from topology.processes import spare_port, stop_child

DRAIN_DELAY_SECONDS = 1.0
DRAIN_TIMEOUT_SECONDS = 10.0


@pytest.fixture
def metrics_port() -> int:
    return spare_port()


@pytest.fixture
def server(
    settings_database_url: str, metrics_port: int
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = spare_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "METRICS_PORT": str(metrics_port),
        "DATABASE_URL": settings_database_url,
        "JWT_SECRET_KEY": TEST_JWT_SECRET_KEY,
        "DRAIN_DELAY_SECONDS": str(DRAIN_DELAY_SECONDS),
        "DRAIN_TIMEOUT_SECONDS": str(DRAIN_TIMEOUT_SECONDS),
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([sys.executable, "-m", "app.server"], cwd=SERVICE_ROOT, env=env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base_url, process)
        yield process, base_url
    finally:
        # Gone before the next test: reaped, and neither port accepting connections.
        stop_child(f"the server on port {port}", process, (port, metrics_port))


@pytest.fixture
def settings_database_url(migrated_database: Path, tmp_path: Path) -> str:
    database = tmp_path / "server.db"
    database.write_bytes(migrated_database.read_bytes())
    return f"sqlite+aiosqlite:///{database}"


# A bound on a stuck start, not a speed target: a loaded 2-core CI machine once took over
# 30 s to import and start the server, and a passing run returns as soon as it serves.
STARTUP_TIMEOUT_SECONDS = 120


def wait_until_serving(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited during startup"
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"the server did not start within {STARTUP_TIMEOUT_SECONDS} s")


async def test_sigterm_fails_readiness_first_then_finishes_in_flight_requests_and_exits_0(
    server: tuple[subprocess.Popen[bytes], str],
) -> None:
    process, base_url = server
    sigterm_sent = asyncio.Event()
    body_parts = [b'{"email": "drain@example.com", ', f'"password": "{PASSWORD}"}}'.encode()]

    async def slow_body() -> AsyncIterator[bytes]:
        yield body_parts[0]
        await sigterm_sent.wait()
        # Finish the body only after the drain delay, when the listener is closed.
        await asyncio.sleep(DRAIN_DELAY_SECONDS * 2)
        yield body_parts[1]

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        assert (await client.get("/readyz")).status_code == 200
        in_flight = asyncio.create_task(
            client.post(
                "/api/v1/auth/register",
                content=slow_body(),
                headers={"Content-Type": "application/json"},
            )
        )
        await asyncio.sleep(0.5)  # the request is accepted and its handler waits for the body
        process.send_signal(signal.SIGTERM)
        sigterm_sent.set()
        await asyncio.sleep(0.2)

        async with httpx.AsyncClient(base_url=base_url, timeout=5) as fresh:
            readiness = await fresh.get("/readyz")  # a new connection: still accepted
        assert readiness.status_code == 503
        assert readiness.json()["reason"] == "draining"

        response = await in_flight
        assert response.status_code == 202, response.text

    exit_code = await asyncio.to_thread(process.wait, DRAIN_DELAY_SECONDS + DRAIN_TIMEOUT_SECONDS)
    assert exit_code == 0


async def test_the_production_server_speaks_http2(
    server: tuple[subprocess.Popen[bytes], str],
) -> None:
    _, base_url = server
    # h2c with prior knowledge, as a load balancer talks to its targets.
    async with httpx.AsyncClient(base_url=base_url, http1=False, http2=True, timeout=5) as client:
        responses = await asyncio.gather(*(client.get("/healthz") for _ in range(5)))
    assert {response.http_version for response in responses} == {"HTTP/2"}
    assert all(response.status_code == 200 for response in responses)


def test_metrics_are_served_on_their_own_port_only(
    server: tuple[subprocess.Popen[bytes], str], metrics_port: int
) -> None:
    _, base_url = server
    assert httpx.get(f"{base_url}/metrics").status_code == 404  # the load balancer's port
    internal = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
    assert internal.status_code == 200
    assert "http_requests_total" in internal.text
    # The API is not served there: that port answers the metrics and nothing else.
    assert "http_requests_total" in httpx.get(f"http://127.0.0.1:{metrics_port}/api/v1/items").text
