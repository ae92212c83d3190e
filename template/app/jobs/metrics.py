"""Prometheus metrics of the job system (default registry, served by /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

JOBS_ENQUEUED = Counter(
    "jobs_enqueued_total", "Jobs written to the outbox (committed or not).", ["job"]
)
JOBS_PROCESSED = Counter(
    "jobs_processed_total",
    "Deliveries handled by a worker, by outcome (succeeded|retried|dead_lettered|duplicate).",
    ["job", "outcome"],
)
JOBS_DURATION = Histogram(
    "jobs_duration_seconds", "Time spent running a job's handler and committing it.", ["job"]
)
JOBS_START_LATENCY = Histogram(
    "jobs_start_latency_seconds",
    "From the moment a job was due (enqueued or retry time) until a worker started it.",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
JOBS_PUBLISHED = Counter("jobs_published_total", "Outbox rows confirmed by the broker.")
JOBS_PUBLISH_FAILURES = Counter(
    "jobs_publish_failures_total", "Relay batches that failed because the broker was unavailable."
)
OUTBOX_PENDING = Gauge("jobs_outbox_pending", "Outbox rows not yet confirmed by the broker.")
QUEUE_LAG = Gauge(
    "jobs_queue_lag_seconds", "Age of the oldest due outbox row the broker has not confirmed."
)
