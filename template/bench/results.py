"""One scenario's measured result, and how it compares with its untuned twin.

Kept apart from ``bench.run`` (which needs httpx) so that the template's report
(``scripts/bench_report.py``) reads the same comparison with the standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    engine: str
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    bytes_per_request: float
    twin: str | None = None
    # Server CPU time per request (--server-pid): unlike req/s, barely moved by other load.
    server_cpu_ms: float | None = None
    # The largest peak RSS (VmHWM) of the server's processes so far, in MiB.
    server_rss_mb: float | None = None
    # req/s as a share of the bare app's (the ``hello-ceiling`` scenario) in the same run.
    share_of_ceiling: float | None = None


def versus_twin(result: Result, twin: Result) -> str:
    """This scenario against its twin: req/s and p50 ratios, and the size ratio if it differs."""
    parts = []
    if twin.requests_per_second:
        parts.append(f"{result.requests_per_second / twin.requests_per_second:.2f}x req/s")
    if twin.p50_ms:
        parts.append(f"{result.p50_ms / twin.p50_ms:.2f}x p50")
    if (
        result.bytes_per_request
        and abs(twin.bytes_per_request / result.bytes_per_request - 1) > 0.05
    ):
        parts.append(f"{twin.bytes_per_request / result.bytes_per_request:.1f}x smaller")
    return ", ".join(parts)
