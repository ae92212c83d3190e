"""Practice 3 and 4 on the real production server (`python -m app.server`, a subprocess).

SIGTERM drain: /readyz fails first while the server still serves, the request already in
flight completes, then the process exits 0. The connection budget: silent, slow and idle
connections past it cannot keep a real client out. HTTP/2: h2c when configured.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
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


@contextmanager
def production_server(
    database_url: str, metrics_port: int, **settings: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``python -m app.server`` with ``settings`` (environment names); killed and waited
    for at the end, whatever happened."""
    port = spare_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "METRICS_PORT": str(metrics_port),
        "DATABASE_URL": database_url,
        "JWT_SECRET_KEY": TEST_JWT_SECRET_KEY,
        "DRAIN_DELAY_SECONDS": str(DRAIN_DELAY_SECONDS),
        "DRAIN_TIMEOUT_SECONDS": str(DRAIN_TIMEOUT_SECONDS),
        "LOG_LEVEL": "WARNING",
        **settings,
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
def server(
    settings_database_url: str, metrics_port: int
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    with production_server(settings_database_url, metrics_port) as started:
        yield started


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


async def test_the_production_server_speaks_http2_when_configured(
    settings_database_url: str, metrics_port: int
) -> None:
    with production_server(settings_database_url, metrics_port, SERVER_HTTP2_CLEARTEXT="true") as (
        _,
        base_url,
    ):
        # h2c with prior knowledge, as h2load and other HTTP/2 clients talk to it.
        async with httpx.AsyncClient(
            base_url=base_url, http1=False, http2=True, timeout=5
        ) as client:
            responses = await asyncio.gather(*(client.get("/healthz") for _ in range(5)))
    assert {response.http_version for response in responses} == {"HTTP/2"}
    assert all(response.status_code == 200 for response in responses)


# --- the connection budget -----------------------------------------------------------------

BUDGET = 8  # SERVER_MAX_CONNECTIONS, small so the test stays small
IDLE_TIMEOUT_SECONDS = 2.0  # SERVER_IDLE_TIMEOUT_SECONDS
# A bound on a stuck test, far above what a passing run needs (about 2 idle timeouts).
GIVE_UP_SECONDS = 30.0
FULL_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
# What the review sent: nothing, half a request head, or one request and then silence.
OCCUPIERS = (b"", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", FULL_REQUEST)


async def _closed_by_the_server(reader: asyncio.StreamReader) -> float:
    """Read until the server closes the connection; the time that took."""
    started = time.monotonic()
    while await reader.read(65536):
        pass
    return time.monotonic() - started


async def test_idle_and_incomplete_connections_past_the_budget_cannot_keep_a_client_out(
    settings_database_url: str, metrics_port: int
) -> None:
    """BUDGET + 10 connections that never complete a request (the review's 128 stopped
    every client): each is closed within the idle timeout of getting a slot, and a real
    client, queued behind them, is served."""
    with production_server(
        settings_database_url,
        metrics_port,
        SERVER_MAX_CONNECTIONS=str(BUDGET),
        SERVER_IDLE_TIMEOUT_SECONDS=str(IDLE_TIMEOUT_SECONDS),
    ) as (_, base_url):
        port = int(base_url.rpartition(":")[2])
        writers: list[asyncio.StreamWriter] = []
        try:
            closings = []
            for number in range(BUDGET + 10):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writers.append(writer)
                writer.write(OCCUPIERS[number % len(OCCUPIERS)])
                await writer.drain()
                closings.append(asyncio.create_task(_closed_by_the_server(reader)))
            started = time.monotonic()
            async with httpx.AsyncClient(base_url=base_url, timeout=GIVE_UP_SECONDS) as client:
                response = await client.get("/healthz")
            waited = time.monotonic() - started
            held_for = await asyncio.wait_for(asyncio.gather(*closings), GIVE_UP_SECONDS)
        finally:
            for writer in writers:
                writer.close()
    assert response.status_code == 200
    # The budget held: the client queued until the occupiers' slots were freed...
    assert waited >= IDLE_TIMEOUT_SECONDS / 2
    # ...and each occupier was closed by the server: those holding a slot after one idle
    # timeout, those queued behind them one timeout after their turn came.
    assert max(held_for) < 2 * IDLE_TIMEOUT_SECONDS + 5


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
