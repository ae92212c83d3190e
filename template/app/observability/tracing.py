"""OpenTelemetry tracing, off unless ``OTEL_ENABLED=true``.

When on, each request gets a server span from FastAPI's native telemetry (route
template, status, method), with FastAPI's dependency/endpoint/serialization spans and
one span per SQL statement of every engine (primary and replicas) beneath it. Spans
leave in batches over OTLP/HTTP (protobuf), sampled by ``OTEL_TRACES_SAMPLE_RATIO``
unless the caller's ``traceparent`` already decided. The tracer provider belongs to
the app, not the process, so nothing is patched globally.

When off, the OpenTelemetry SDK, exporter and instrumentation are never imported and
nothing is instrumented; the log processor below finds no span and adds nothing.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import trace  # the API only; FastAPI imports it anyway
from structlog.typing import EventDict, WrappedLogger

from app import about

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler
    from opentelemetry.util.types import Attributes
    from sqlalchemy.ext.asyncio import AsyncEngine

    from app.settings import Settings

# Load-balancer probes and scrapes every few seconds would drown the traces that matter.
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

# FastAPI's native telemetry, all off: no spans, metrics or log records, whatever
# global provider another library may have installed.
TELEMETRY_OFF: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}


@dataclass(frozen=True, slots=True)
class Tracing:
    """The app's tracer provider, built by ``configure_tracing`` and shut down with it."""

    provider: TracerProvider

    def fastapi_telemetry(self) -> TelemetryConfig:
        # Prometheus (app.observability.metrics) and the JSON logs already cover metrics and logs.
        return {
            "tracer_provider": self.provider,
            "tracing": True,
            "operation_spans": True,
            "metrics": False,
            "logs": False,
            "exclude": _untraced,
        }

    def shutdown(self) -> None:
        """Export the spans still queued, then stop the exporter."""
        self.provider.shutdown()


def configure_tracing(settings: Settings, engines: Sequence[AsyncEngine]) -> Tracing | None:
    """Build the tracer provider and instrument ``engines``; None when tracing is off."""
    if not settings.otel_enabled:
        return None
    # Imported here so a service with tracing off never loads the SDK.
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create(
        {
            "service.name": settings.otel_service_name or about.SLUG,
            "service.version": "0.1.0",
            "deployment.environment.name": settings.environment.value,
        }
    )
    provider = TracerProvider(
        resource=resource, sampler=_sampler(settings.otel_traces_sample_ratio)
    )
    provider.add_span_processor(BatchSpanProcessor(span_exporter(settings)))
    tracer = provider.get_tracer("app.db")
    # The instrumentation's pool-usage counter goes nowhere: metrics.py exports pool usage.
    connections = (
        NoOpMeterProvider()
        .get_meter("app.db")
        .create_up_down_counter("db.client.connections.usage")
    )
    for engine in engines:
        # Per engine, through event listeners: SQLAlchemyInstrumentor().instrument() would
        # also patch create_engine process-wide and only ever bind its first provider.
        EngineTracer(tracer, engine.sync_engine, connections)  # type: ignore[no-untyped-call]
    return Tracing(provider)


def span_exporter(settings: Settings) -> SpanExporter:
    """OTLP over HTTP/protobuf to the collector (an ADOT or OpenTelemetry Collector sidecar)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    base = settings.otel_exporter_otlp_endpoint.rstrip("/")
    # Like the standard variable: a base URL, to which the traces path is appended.
    return OTLPSpanExporter(endpoint=f"{base}/v1/traces" if base else None)


def _sampler(ratio: float) -> Sampler:
    """Parent-based: a caller's sampled traceparent is followed; new traces keep ``ratio``.

    SQL that starts a trace of its own (readiness probes, excluded paths) is dropped, so
    every recorded trace is a request.
    """
    from opentelemetry.sdk.trace.sampling import (
        Decision,
        ParentBased,
        Sampler,
        SamplingResult,
        TraceIdRatioBased,
    )

    class RequestRoots(Sampler):
        def __init__(self) -> None:
            self.requests = TraceIdRatioBased(ratio)

        def should_sample(
            self,
            parent_context: Context | None,
            trace_id: int,
            name: str,
            kind: trace.SpanKind | None = None,
            attributes: Attributes = None,
            links: Sequence[trace.Link] | None = None,
            trace_state: trace.TraceState | None = None,
        ) -> SamplingResult:
            if kind is trace.SpanKind.CLIENT:
                return SamplingResult(Decision.DROP)
            return self.requests.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return f"RequestRoots({ratio})"

    return ParentBased(root=RequestRoots())


def fastapi_telemetry(tracing: Tracing | None) -> TelemetryConfig:
    """The ``telemetry=`` argument of ``FastAPI()``."""
    return tracing.fastapi_telemetry() if tracing is not None else TELEMETRY_OFF


def add_trace_ids(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    """structlog processor: the current trace and span ids, to jump from a log to its trace."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", trace.format_trace_id(context.trace_id))
        event.setdefault("span_id", trace.format_span_id(context.span_id))
    return event


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in UNTRACED_PATHS
