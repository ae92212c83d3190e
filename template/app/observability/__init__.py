"""Monitoring: JSON logs, Prometheus metrics, OpenTelemetry traces, on-demand profiles.

Every log line, metric and span of a request carries its request id
(``request_context.request_id_var``), and so do the jobs that request enqueued.
"""
