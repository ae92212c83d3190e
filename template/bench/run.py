"""Run the scenarios against a running service on this machine: ``make bench``.

    python -m bench.run --base-url http://127.0.0.1:8000 --duration 10 [--json]

Each scenario runs for a bounded time and request count, with wrk when it is installed
(Debian: ``apt-get install wrk``) and otherwise with a small asyncio + httpx load
generator (a few thousand req/s at most: fine for ratios, not for absolute ceilings).
Only 127.0.0.1/localhost is accepted as a target. Start and seed the server first
(``python -m bench.seed``); this module starts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import subprocess
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.scenarios import Scenario, by_name

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_DURATION_SECONDS = 120.0
MAX_CONNECTIONS = 256
PAGE_WALK_LIMIT = 100


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


def check_local(base_url: str) -> str:
    """``base_url`` without a trailing slash; refuses anything but this machine."""
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or parts.hostname not in LOCAL_HOSTS:
        raise ValueError(
            f"refusing to load {base_url!r}: bench only targets http(s)://127.0.0.1 or "
            "localhost (load-testing other hosts is not this tool's job)"
        )
    return base_url.rstrip("/")


async def prepare(client: httpx.AsyncClient, depth: int) -> dict[str, str]:
    """The placeholder values, read from the seeded data through the public API."""
    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    password = uuid.uuid4().hex
    credentials = {"email": email, "password": password}
    (await client.post("/api/v1/auth/register", json=credentials)).raise_for_status()
    login = await client.post("/api/v1/auth/login", json=credentials)
    login.raise_for_status()
    first = (await client.get("/api/v1/items", params={"limit": 1})).json()["items"]
    if not first:
        raise RuntimeError("the catalog is empty: seed it first (python -m bench.seed)")
    newest = int(first[0]["id"])
    cursor, walked = "", 0
    while walked < depth:  # bounded: depth / PAGE_WALK_LIMIT requests
        params: dict[str, str | int] = {"limit": min(PAGE_WALK_LIMIT, depth - walked)}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/items", params=params)).json()
        walked += len(page["items"])
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    return {
        "item_id": str(newest),
        "random_low": str(max(1, newest - max(walked, 1))),
        "random_high": str(newest),
        "deep_cursor": cursor,
        "deep_offset": str(walked),
        "token": login.json()["access_token"],
    }


def fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def _random_path(path: str, values: dict[str, str]) -> str:
    item_id = random.randint(int(values["random_low"]), int(values["random_high"]))  # noqa: S311
    return path.replace("{random_item_id}", str(item_id))


async def run_builtin(
    scenario: Scenario,
    base_url: str,
    values: dict[str, str],
    *,
    duration_seconds: float,
    connections: int,
    max_requests: int,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Result:
    """A closed-loop generator: ``connections`` workers, each one request at a time."""
    path = fill(scenario.path, values)
    headers = {"Accept-Encoding": "identity"} | {
        key: fill(value, values) for key, value in scenario.headers.items()
    }
    body = fill(scenario.body, values).encode() if scenario.body is not None else None
    latencies: list[float] = []
    errors = received = sent_count = 0
    started = time.perf_counter()
    deadline = started + duration_seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, transport=transport, timeout=10.0
    ) as client:

        async def worker() -> None:
            nonlocal errors, received, sent_count
            while time.perf_counter() < deadline and sent_count < max_requests:
                sent_count += 1  # counted before awaiting, so workers never overshoot
                target = _random_path(path, values) if "{random_item_id}" in path else path
                sent = time.perf_counter()
                try:
                    response = await client.request(scenario.method, target, content=body)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - sent)
                received += response.num_bytes_downloaded
                if response.status_code >= 400:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
    seconds = time.perf_counter() - started
    return _result(
        scenario, "builtin", latencies=latencies, errors=errors, received=received, seconds=seconds
    )


def _result(
    scenario: Scenario,
    engine: str,
    *,
    latencies: list[float],
    errors: int,
    received: int,
    seconds: float,
) -> Result:
    ordered = sorted(latencies)

    def percentile(share: float) -> float:
        if not ordered:
            return 0.0
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000, 3)

    count = len(ordered)
    return Result(
        name=scenario.name,
        engine=engine,
        requests=count,
        seconds=round(seconds, 3),
        requests_per_second=round(count / seconds, 1) if seconds else 0.0,
        p50_ms=percentile(0.50),
        p99_ms=percentile(0.99),
        errors=errors,
        bytes_per_request=round(received / count, 1) if count else 0.0,
        twin=scenario.twin,
    )


def _lua(text: str) -> str:
    return f"[==[{text}]==]"


WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,'
    .. '"p50_us":%d,"p99_us":%d}\\n', summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_script(scenario: Scenario, values: dict[str, str], max_per_thread: int) -> str:
    lines = [f"wrk.method = {_lua(scenario.method)}"]
    if scenario.body is not None:
        lines.append(f"wrk.body = {_lua(fill(scenario.body, values))}")
    for key, value in scenario.headers.items():
        lines.append(f"wrk.headers[ {_lua(key)} ] = {_lua(fill(value, values))}")
    path = fill(scenario.path, values)
    if "{random_item_id}" in path:
        head, tail = path.split("{random_item_id}", 1)
        low, high = values["random_low"], values["random_high"]
        lines.append(
            "request = function() return wrk.format(nil, "
            f"{_lua(head)} .. math.random({low}, {high}) .. {_lua(tail)}) end"
        )
    # The count bound: each thread stops after its share of max_requests.
    lines.append(
        f"local answered = 0\nresponse = function() answered = answered + 1 "
        f"if answered >= {max_per_thread} then wrk.thread:stop() end end"
    )
    return "\n".join(lines) + WRK_DONE


def run_wrk(
    scenario: Scenario,
    base_url: str,
    values: dict[str, str],
    *,
    duration_seconds: float,
    connections: int,
    max_requests: int,
    threads: int = 2,
) -> Result:
    threads = max(1, min(threads, connections))
    with tempfile.TemporaryDirectory() as workdir:
        script = Path(workdir) / "scenario.lua"
        script.write_text(wrk_script(scenario, values, max(1, max_requests // threads)))
        url = base_url + fill(scenario.path, values).replace("{random_item_id}", "0")
        command = [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_seconds))}s",
            "--timeout", "10s", "-s", str(script), url,
        ]  # fmt: skip
        output = subprocess.run(  # noqa: S603 - fixed program, arguments built here
            command, capture_output=True, text=True, check=True, timeout=duration_seconds + 30
        ).stdout
    line = next(line for line in output.splitlines() if line.startswith("WRK_JSON "))
    raw = json.loads(line.removeprefix("WRK_JSON "))
    seconds = raw["duration_us"] / 1e6
    requests = int(raw["requests"])
    return Result(
        name=scenario.name,
        engine="wrk",
        requests=requests,
        seconds=round(seconds, 3),
        requests_per_second=round(requests / seconds, 1) if seconds else 0.0,
        p50_ms=round(raw["p50_us"] / 1000, 3),
        p99_ms=round(raw["p99_us"] / 1000, 3),
        errors=int(raw["errors"]),
        bytes_per_request=round(raw["bytes"] / requests, 1) if requests else 0.0,
        twin=scenario.twin,
    )


def table(results: list[Result], skipped: list[Scenario]) -> str:
    by_name = {result.name: result for result in results}
    header = (
        f"{'scenario':<24}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}"
        f"{'bytes/req':>11}  vs twin"
    )
    lines = [header, "-" * len(header)]
    for result in results:
        twin = by_name.get(result.twin or "")
        versus = ""
        if twin is not None and twin.requests_per_second and result.bytes_per_request:
            versus = (
                f"{result.requests_per_second / twin.requests_per_second:.2f}x req/s, "
                f"{twin.bytes_per_request / result.bytes_per_request:.1f}x smaller "
                f"({twin.name})"
            )
        lines.append(
            f"{result.name:<24}{result.requests_per_second:>10.1f}{result.p50_ms:>10.2f}"
            f"{result.p99_ms:>10.2f}{result.errors:>8}{result.bytes_per_request:>11.0f}  {versus}"
        )
    lines.extend(f"{s.name:<24}skipped: {s.missing}" for s in skipped)
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> tuple[list[Result], list[Scenario]]:
    base_url = check_local(args.base_url)
    scenarios = by_name(args.only)
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0) as client:
        values = await prepare(client, args.depth)
    use_wrk = args.engine == "wrk" or (args.engine == "auto" and shutil.which("wrk"))
    bounds = {
        "duration_seconds": args.duration,
        "connections": args.connections,
        "max_requests": args.max_requests,
    }
    results = []
    for scenario in scenarios:
        if scenario.missing:
            continue
        if use_wrk:
            results.append(await asyncio.to_thread(run_wrk, scenario, base_url, values, **bounds))
        else:
            results.append(await run_builtin(scenario, base_url, values, **bounds))
    return results, [scenario for scenario in scenarios if scenario.missing]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--max-requests", type=int, default=500_000, help="per scenario")
    parser.add_argument("--depth", type=int, default=90_000, help="items before the deep page")
    parser.add_argument("--engine", choices=["auto", "wrk", "builtin"], default="auto")
    parser.add_argument("--only", nargs="*", help="scenario names (default: all)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION_SECONDS:
        parser.error(f"--duration must be in (0, {MAX_DURATION_SECONDS:g}] seconds")
    if not 0 < args.connections <= MAX_CONNECTIONS:
        parser.error(f"--connections must be in 1..{MAX_CONNECTIONS}")
    if args.max_requests < 1 or args.depth < 0:
        parser.error("--max-requests must be positive and --depth not negative")
    try:
        results, skipped = asyncio.run(run(args))
    except ValueError as error:
        parser.error(str(error))
    if args.json:
        report = {
            "base_url": args.base_url,
            "results": [asdict(result) for result in results],
            "skipped": {scenario.name: scenario.missing for scenario in skipped},
        }
        print(json.dumps(report, indent=2))  # noqa: T201
    else:
        print(table(results, skipped))  # noqa: T201


if __name__ == "__main__":
    main()
