"""Practice 6 (monitoring): OpenTelemetry tracing, off by default, per app when on."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from app.observability import tracing
from app.observability.tracing import Tracing
from app.settings import Settings
from tests.conftest import SERVICE_ROOT, serve


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """Spans the app exports, caught in memory instead of sent over OTLP."""
    exporter = InMemorySpanExporter()
    monkeypatch.setattr(tracing, "span_exporter", lambda _settings: exporter)
    return exporter


@pytest.fixture
async def traced(
    settings: Settings, exported: InMemorySpanExporter
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with serve(settings.model_copy(update={"otel_enabled": True})) as app_and_client:
        yield app_and_client


@pytest.fixture
def traced_app(traced: tuple[FastAPI, httpx.AsyncClient]) -> FastAPI:
    return traced[0]


@pytest.fixture
def traced_client(traced: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return traced[1]


def finished_spans(app: FastAPI, exporter: InMemorySpanExporter) -> tuple[ReadableSpan, ...]:
    traced: Tracing = app.state.tracing
    traced.provider.force_flush()  # the batch processor exports in the background
    return exporter.get_finished_spans()


def ancestors(span: ReadableSpan, spans: tuple[ReadableSpan, ...]) -> list[int]:
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    chain = []
    parent = span.parent
    while parent is not None:
        chain.append(parent.span_id)
        parent = by_id[parent.span_id].parent if parent.span_id in by_id else None
    return chain


async def test_a_request_exports_a_server_span_with_route_status_and_child_sql_spans(
    traced_app: FastAPI, traced_client: httpx.AsyncClient, exported: InMemorySpanExporter
) -> None:
    response = await traced_client.get("/api/v1/items", params={"limit": 5})
    assert response.status_code == 200

    spans = finished_spans(traced_app, exported)
    servers = [s for s in spans if s.kind is SpanKind.SERVER]
    assert len(servers) == 1, [s.name for s in spans]
    server = servers[0]
    assert server.name == "GET /api/v1/items"
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/api/v1/items"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["http.request.method"] == "GET"
    assert server.resource.attributes["service.name"]

    sql = [s for s in spans if s.kind is SpanKind.CLIENT and s.attributes and "SELECT" in s.name]
    assert sql, f"no SQL span among {[s.name for s in spans]}"
    assert server.context is not None
    for span in sql:
        assert span.context is not None
        assert span.context.trace_id == server.context.trace_id
        assert server.context.span_id in ancestors(span, spans), "SQL span outside the request"


async def test_an_incoming_traceparent_continues_the_callers_trace(
    traced_app: FastAPI, traced_client: httpx.AsyncClient, exported: InMemorySpanExporter
) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    assert (await traced_client.get("/api/v1/items/4711", headers=headers)).status_code == 404

    (server,) = [s for s in finished_spans(traced_app, exported) if s.kind is SpanKind.SERVER]
    assert server.context is not None
    assert f"{server.context.trace_id:032x}" == trace_id
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/api/v1/items/{item_id}"
    assert server.attributes["http.response.status_code"] == 404


async def test_probes_are_not_traced(
    traced_app: FastAPI, traced_client: httpx.AsyncClient, exported: InMemorySpanExporter
) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await traced_client.get(path)).status_code == 200
    assert finished_spans(traced_app, exported) == ()


async def test_access_log_lines_carry_the_trace_id(
    traced_app: FastAPI,
    traced_client: httpx.AsyncClient,
    exported: InMemorySpanExporter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    await traced_client.get("/api/v1/items")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    (access,) = [line for line in lines if line.get("event") == "request"]

    (server,) = [s for s in finished_spans(traced_app, exported) if s.kind is SpanKind.SERVER]
    assert server.context is not None
    assert access["trace_id"] == f"{server.context.trace_id:032x}"


async def test_tracing_is_off_by_default_and_leaves_the_app_untouched(
    app: FastAPI, client: httpx.AsyncClient, traced_app: FastAPI, exported: InMemorySpanExporter
) -> None:
    assert Settings(_env_file=None).otel_enabled is False
    assert app.state.tracing is None
    engine = app.state.resources.engine.sync_engine
    listeners = [getattr(fn, "__self__", None) for fn in engine.dispatch.before_cursor_execute]
    assert not any(type(owner).__name__ == "EngineTracer" for owner in listeners)

    # A traced app in the same process shares nothing with it: no spans from the other.
    assert (await client.get("/api/v1/items")).status_code == 200
    assert finished_spans(traced_app, exported) == ()


def test_with_tracing_off_the_sdk_and_instrumentation_are_never_imported(tmp_path: Path) -> None:
    # opentelemetry.sdk.metrics may still load: redis-py imports it for its own optional metrics.
    probe = (
        "import sys\n"
        "from app.main import create_app\n"
        "create_app()\n"
        "print([m for m in sys.modules if m.startswith(("
        "'opentelemetry.sdk.trace', 'opentelemetry.instrumentation', 'opentelemetry.exporter'"
        "))])\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed program
        [sys.executable, "-c", probe],
        cwd=SERVICE_ROOT,
        env={
            "PATH": "",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/probe.db",
            "LOG_LEVEL": "WARNING",
        },
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == "[]"


def test_spans_go_to_the_configured_otlp_http_endpoint(settings: Settings) -> None:
    configured = settings.model_copy(
        update={"otel_exporter_otlp_endpoint": "http://collector.internal:4318/"}
    )
    exporter = tracing.span_exporter(configured)
    assert isinstance(exporter, OTLPSpanExporter)
    assert exporter._endpoint == "http://collector.internal:4318/v1/traces"
