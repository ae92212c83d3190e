"""The numbers the practices promise, checked against one run's results.

A target compares two scenarios of the same run (same server, same workers), so the
machine's speed cancels out. A miss is reported, never raised: benchmarks are not tests.
Each target carries what usually causes a miss and what fixes it, so the report can say
more than "MISS".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol


class Measured(Protocol):
    @property
    def requests_per_second(self) -> float: ...

    @property
    def p50_ms(self) -> float: ...

    @property
    def bytes_per_request(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    goal: str
    scenarios: tuple[str, str]  # (measured, reference)
    ratio: Callable[[Measured, Measured], float]
    passes: Callable[[float], bool]
    ratio_label: str
    when_missed: str


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str
    goal: str
    measured: str
    ratio: float | None
    status: str  # PASS, MISS, or SKIPPED (a scenario did not run)
    note: str


def _share(measured: Measured, reference: Measured) -> float:
    return measured.requests_per_second / reference.requests_per_second


def _latency(measured: Measured, reference: Measured) -> float:
    return measured.p50_ms / reference.p50_ms


def _smaller(measured: Measured, reference: Measured) -> float:
    return reference.bytes_per_request / measured.bytes_per_request


TARGETS: tuple[Target, ...] = (
    Target(
        "cached-read-vs-ceiling",
        "cached item read >= 70% of the ceiling's req/s",
        ("item-read-cached", "ceiling"),
        _share,
        lambda ratio: ratio >= 0.70,
        "of the ceiling's req/s",
        "the server is CPU-bound and a cached read costs more CPU per request than the bare "
        "route (compare their server CPU ms/req). The cached body is already sent as stored "
        "(no decode, validation or re-encoding); profiled, what remains is FastAPI resolving "
        "the route's six dependencies and parameters (about 0.3 ms per request) and the Redis "
        "round trip through redis-py. Fixes: an in-process copy of hot keys in front of Redis "
        "(bypassed for requests carrying a read-your-writes token); one dependency instead of "
        "six on the hot route; in production, CloudFront answers repeated public reads "
        "(s-maxage) before they reach the origin. More server processes raise both numbers, "
        "not their ratio.",
    ),
    Target(
        "keyset-deep-vs-first",
        "keyset page at depth 90,000 within 1.3x the p50 latency of the first page",
        ("list-keyset-deep", "list-keyset-first"),
        _latency,
        lambda ratio: ratio <= 1.3,
        "x the first page's p50",
        "a deep keyset page costs more than the first when the query cannot seek: the "
        "composite index does not match the WHERE and ORDER BY (check EXPLAIN for an Index "
        "Scan with the row-comparison as Index Cond), or the planner has stale statistics "
        "after the bulk seed (run ANALYZE).",
    ),
    Target(
        "brotli-vs-identity",
        "brotli list payload >= 5x smaller than identity",
        ("list-payload-brotli", "list-payload-identity"),
        _smaller,
        lambda ratio: ratio >= 5.0,
        "x smaller (bytes on the wire, headers included)",
        "the response is too small or too varied to compress well, or it was not "
        "compressed at all (check Content-Encoding: br; COMPRESSION_MINIMUM_SIZE_BYTES). "
        "Fixes: a higher brotli quality for cached payloads, fewer unique bytes per item "
        "(sparse fieldsets with ?fields=).",
    ),
)


def check(results: Mapping[str, Measured]) -> list[Verdict]:
    """Every target's verdict; a target whose scenarios did not both run is SKIPPED."""
    verdicts = []
    for target in TARGETS:
        measured, reference = (results.get(name) for name in target.scenarios)
        if measured is None or reference is None:
            verdicts.append(
                Verdict(target.name, target.goal, "", None, "SKIPPED", "a scenario did not run")
            )
            continue
        try:
            ratio = round(target.ratio(measured, reference), 3)
        except ZeroDivisionError:
            verdicts.append(
                Verdict(target.name, target.goal, "", None, "MISS", "a scenario measured zero")
            )
            continue
        passed = target.passes(ratio)
        verdicts.append(
            Verdict(
                name=target.name,
                goal=target.goal,
                measured=f"{ratio:.2f} {target.ratio_label} "
                f"({target.scenarios[0]} vs {target.scenarios[1]})",
                ratio=ratio,
                status="PASS" if passed else "MISS",
                note="" if passed else target.when_missed,
            )
        )
    return verdicts
