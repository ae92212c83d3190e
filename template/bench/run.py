"""Run the scenarios against a running service on this machine: ``make bench``.

    python -m bench.run --base-url http://127.0.0.1:8000 --duration 10 [--json] [--output F]
        [--ceiling-url http://127.0.0.1:8001] [--server-pid PID ...] [--ceiling-pid PID ...]

Each scenario runs for a bounded time and request count, with wrk when it is installed
(Debian: ``apt-get install wrk``) and otherwise with a small asyncio + httpx load
generator (a few thousand req/s at most: fine for ratios, not for absolute ceilings).
The HTTP/2 page scenario needs h2load (Debian: ``nghttp2-client``).
Only 127.0.0.1/localhost is accepted as a target. Start and seed the server first
(``python -m bench.seed``), with ``BENCH_TWINS=true`` for the untuned twins; this module
starts nothing. The ``hello-ceiling`` scenario loads the bare app of ``bench.ceiling``
at ``--ceiling-url`` (run it like the service: same server, same number of processes);
every result carries its req/s as a share of that ceiling. The targets of
``bench.targets`` are checked and printed after the table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench import targets
from bench.results import Result, versus_twin
from bench.scenarios import PAGE, TWIN_PREFIX, Scenario, by_name

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_DURATION_SECONDS = 120.0
MAX_CONNECTIONS = 256
PAGE_WALK_LIMIT = 100
BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "bench run: tuned paths against their twins"  # noqa: S105 - a local test account
# HTTP/1.1 browsers open up to six connections per host; HTTP/2 multiplexes on one.
HTTP1_CONNECTIONS_PER_BROWSER = 6
ASSET_LINK = re.compile(r'href="([^"]+)"')


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """The largest resident set process ``pid`` has had so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def with_shares(results: list[Result]) -> list[Result]:
    """Each result with its req/s as a share of the ``hello-ceiling`` result's, if any."""
    ceiling = next((result for result in results if result.name == targets.CEILING), None)
    if ceiling is None or not ceiling.requests_per_second:
        return results
    return [
        replace(
            result,
            share_of_ceiling=round(result.requests_per_second / ceiling.requests_per_second, 3),
        )
        for result in results
    ]


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
    # One bench account, signed up again on every run: sign-up answers 202 whether or not
    # it exists, and its rate limit (429) only means an earlier run created it.
    credentials = {"email": BENCH_EMAIL, "password": BENCH_PASSWORD}
    registered = await client.post("/api/v1/auth/register", json=credentials)
    if registered.status_code != 429:
        registered.raise_for_status()
    login = await client.post("/api/v1/auth/login", json=credentials)
    login.raise_for_status()
    first = (await client.get("/api/v1/items", params={"limit": 1})).json()["items"]
    if not first:
        raise RuntimeError("the catalog is empty: seed it first (python -m bench.seed)")
    newest = int(first[0]["id"])
    first_cursor = (await client.get("/api/v1/items", params={"limit": 1})).json()["next_cursor"]
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
        "first_cursor": first_cursor or "",
        "random_low": str(max(1, newest - max(walked, 1))),
        "random_high": str(newest),
        "deep_cursor": cursor,
        "deep_offset": str(walked),
        "token": login.json()["access_token"],
    }


async def twins_offered(client: httpx.AsyncClient) -> bool:
    """Whether the server mounts the /bench twins (it runs with BENCH_TWINS=true)."""
    response = await client.get(TWIN_PREFIX + "items", params={"limit": 1})
    return response.status_code == httpx.codes.OK


async def page_urls(client: httpx.AsyncClient) -> list[str]:
    """The bench page and every asset it references, in the order a browser finds them."""
    response = await client.get(PAGE)
    response.raise_for_status()
    return [PAGE, *ASSET_LINK.findall(response.text)]


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


def wrk_script(
    scenario: Scenario, values: dict[str, str], max_per_thread: int, paths: Sequence[str] = ()
) -> str:
    """The Lua script of one scenario; ``paths`` are requested in turn (a page's assets)."""
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
    if paths:
        listed = ", ".join(_lua(path) for path in paths)
        lines.append(
            "local paths, turn = {" + listed + "}, 0\n"
            "request = function() turn = turn % #paths + 1 "
            "return wrk.format(nil, paths[turn]) end"
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
    paths: Sequence[str] = (),
) -> Result:
    threads = max(1, min(threads, connections))
    with tempfile.TemporaryDirectory() as workdir:
        script = Path(workdir) / "scenario.lua"
        per_thread = max(1, max_requests // threads)
        script.write_text(wrk_script(scenario, values, per_thread, paths))
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


def h2load_command(
    base_url: str, urls: list[str], *, duration_seconds: float, browsers: int
) -> list[str]:
    """h2load loading ``urls`` over HTTP/2 (h2c) like ``browsers`` browsers, for a bounded time:
    one connection per browser, every request of the page in flight at once."""
    return [
        "h2load", "-t1", f"-c{browsers}", f"-m{len(urls)}",
        f"-D{max(1, round(duration_seconds))}", *(base_url + url for url in urls),
    ]  # fmt: skip


def run_h2load(
    scenario: Scenario,
    base_url: str,
    urls: list[str],
    *,
    duration_seconds: float,
    browsers: int,
) -> Result:
    command = h2load_command(base_url, urls, duration_seconds=duration_seconds, browsers=browsers)
    with tempfile.TemporaryDirectory() as workdir:
        log = Path(workdir) / "requests.tsv"
        started = time.perf_counter()
        output = subprocess.run(  # noqa: S603 - fixed program, arguments built here
            [*command, f"--log-file={log}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=duration_seconds + 30,
        ).stdout
        seconds = time.perf_counter() - started
        rows = [line.split("\t") for line in log.read_text().splitlines() if line]
    latencies = [int(row[2]) / 1e6 for row in rows if 0 < int(row[1]) < 400]
    errors = sum(1 for row in rows if not 0 < int(row[1]) < 400)
    traffic = re.search(r"^traffic: .*?\((\d+)\) total", output, re.MULTILINE)
    finished = re.search(r"^finished in ([\d.]+)(m?s)", output, re.MULTILINE)
    if finished is not None:
        seconds = float(finished[1]) / (1000 if finished[2] == "ms" else 1)
    return _result(
        scenario,
        "h2load",
        latencies=latencies,
        errors=errors,
        received=int(traffic[1]) if traffic else 0,
        seconds=seconds,
    )


def table(results: list[Result], skipped: dict[str, str]) -> str:
    """A text table; "vs twin" divides this row by its twin's (req/s, p50, bytes)."""
    by_name = {result.name: result for result in results}
    header = (
        f"{'scenario':<24}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}"
        f"{'bytes/req':>11}{'cpu ms':>8}{'rss MiB':>9}{'ceiling':>9}  vs twin"
    )
    lines = [header, "-" * len(header)]
    for result in results:
        twin = by_name.get(result.twin or "")
        versus = f"{versus_twin(result, twin)} ({twin.name})" if twin is not None else ""
        lines.append(
            f"{result.name:<24}{result.requests_per_second:>10.1f}{result.p50_ms:>10.2f}"
            f"{result.p99_ms:>10.2f}{result.errors:>8}{result.bytes_per_request:>11.0f}"
            f"{'' if result.server_cpu_ms is None else f'{result.server_cpu_ms:.3f}':>8}"
            f"{'' if result.server_rss_mb is None else f'{result.server_rss_mb:.0f}':>9}"
            f"{'' if result.share_of_ceiling is None else f'{result.share_of_ceiling:.2f}':>9}"
            f"  {versus}"
        )
    lines.extend(f"{name:<24}skipped: {reason}" for name, reason in skipped.items())
    return "\n".join(lines)


def verdicts_text(verdicts: list[targets.Verdict]) -> str:
    lines = ["", "targets:"]
    for verdict in verdicts:
        lines.append(f"  {verdict.status:<7} {verdict.goal}: {verdict.measured or '-'}")
        if verdict.note:
            lines.append(f"          why and what would fix it: {verdict.note}")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> tuple[list[Result], dict[str, str]]:
    """Every scenario in declaration order, twins side by side; the skipped ones with why."""
    service_url = check_local(args.base_url)
    ceiling_url = check_local(args.ceiling_url) if args.ceiling_url else ""
    scenarios = by_name(args.only)
    async with httpx.AsyncClient(base_url=service_url, timeout=10.0) as client:
        values = await prepare(client, args.depth)
        twins = await twins_offered(client)
        urls = await page_urls(client) if twins else []
    use_wrk = args.engine == "wrk" or (args.engine == "auto" and shutil.which("wrk"))

    async def measure(scenario: Scenario, seconds: float) -> Result:
        base_url = ceiling_url if scenario.server == "ceiling" else service_url
        if scenario.kind == "page-h1":
            # wrk, not h2load --h1: h2load rejects a status line without a reason phrase
            # ("HTTP/1.1 200 "), which some servers send. One request at a time per connection.
            return await asyncio.to_thread(
                run_wrk, scenario, base_url, values, duration_seconds=seconds,
                connections=args.browsers * HTTP1_CONNECTIONS_PER_BROWSER,
                max_requests=args.max_requests, paths=urls,
            )  # fmt: skip
        if scenario.kind == "page-h2":
            return await asyncio.to_thread(
                run_h2load, scenario, base_url, urls,
                duration_seconds=seconds, browsers=args.browsers,
            )  # fmt: skip
        bounds = {"connections": args.connections, "max_requests": args.max_requests}
        if use_wrk:
            return await asyncio.to_thread(
                run_wrk, scenario, base_url, values, duration_seconds=seconds, **bounds
            )
        return await run_builtin(scenario, base_url, values, duration_seconds=seconds, **bounds)

    results: list[Result] = []
    skipped: dict[str, str] = {}
    for scenario in scenarios:
        reason = skip_reason(scenario, twins=twins, ceiling=bool(ceiling_url))
        if reason:
            skipped[scenario.name] = reason
            continue
        if args.warmup:  # fills caches and pools; not measured
            await measure(scenario, args.warmup)
        pids = args.ceiling_pid if scenario.server == "ceiling" else args.server_pid
        cpu_before = sum(map(process_cpu_seconds, pids))
        result = await measure(scenario, args.duration)
        if pids and result.requests:
            cpu = sum(map(process_cpu_seconds, pids)) - cpu_before
            result = replace(
                result,
                server_cpu_ms=round(cpu * 1000 / result.requests, 3),
                server_rss_mb=round(max(map(peak_rss_mib, pids)), 1),
            )
        results.append(result)
    return with_shares(results), skipped


def skip_reason(scenario: Scenario, *, twins: bool, ceiling: bool = True) -> str | None:
    """Why ``scenario`` cannot run here, or None."""
    if scenario.missing:
        return scenario.missing
    if scenario.server == "ceiling" and not ceiling:
        return "no --ceiling-url: start the bare app (python -m bench.ceiling) and pass its URL"
    if scenario.needs_twins and not twins:
        return "the server does not offer the /bench twins: start it with BENCH_TWINS=true"
    if scenario.kind == "page-h2" and not shutil.which("h2load"):
        return "needs h2load (Debian: apt-get install nghttp2-client)"
    return None


def report(
    args: argparse.Namespace, results: list[Result], skipped: dict[str, str]
) -> dict[str, object]:
    """The run as JSON-ready data: bounds, results, skipped scenarios and target verdicts."""
    verdicts = targets.check({result.name: result for result in results})
    return {
        "base_url": args.base_url,
        "ceiling_url": args.ceiling_url,
        "bounds": {
            "duration_seconds": args.duration,
            "warmup_seconds": args.warmup,
            "connections": args.connections,
            "browsers": args.browsers,
            "max_requests": args.max_requests,
            "depth": args.depth,
        },
        "results": [asdict(result) for result in results],
        "skipped": skipped,
        "targets": [asdict(verdict) for verdict in verdicts],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--max-requests", type=int, default=500_000, help="per scenario")
    parser.add_argument("--depth", type=int, default=90_000, help="items before the deep page")
    parser.add_argument("--engine", choices=["auto", "wrk", "builtin"], default="auto")
    parser.add_argument(
        "--ceiling-url", help="the bare app of bench.ceiling, for the hello-ceiling scenario"
    )
    parser.add_argument(
        "--server-pid",
        type=int,
        action="append",
        default=[],
        help="a service process: its CPU time per request and peak RSS are measured (repeat)",
    )
    parser.add_argument(
        "--ceiling-pid",
        type=int,
        action="append",
        default=[],
        help="a process of the ceiling's server, measured the same way (repeat)",
    )
    parser.add_argument(
        "--browsers", type=int, default=4, help="simulated browsers of the page scenarios"
    )
    parser.add_argument(
        "--warmup", type=float, default=0.0, help="unmeasured seconds before each scenario"
    )
    parser.add_argument("--only", nargs="*", help="scenario names (default: all)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--output", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION_SECONDS:
        parser.error(f"--duration must be in (0, {MAX_DURATION_SECONDS:g}] seconds")
    if not 0 < args.connections <= MAX_CONNECTIONS:
        parser.error(f"--connections must be in 1..{MAX_CONNECTIONS}")
    if args.max_requests < 1 or args.depth < 0:
        parser.error("--max-requests must be positive and --depth not negative")
    if not 0 < args.browsers <= MAX_CONNECTIONS // HTTP1_CONNECTIONS_PER_BROWSER:
        parser.error(f"--browsers must be in 1..{MAX_CONNECTIONS // HTTP1_CONNECTIONS_PER_BROWSER}")
    if not 0 <= args.warmup <= MAX_DURATION_SECONDS:
        parser.error(f"--warmup must be in [0, {MAX_DURATION_SECONDS:g}] seconds")
    try:
        results, skipped = asyncio.run(run(args))
    except ValueError as error:
        parser.error(str(error))
    data = report(args, results, skipped)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(data, indent=2) + "\n")
    if args.json:
        print(json.dumps(data, indent=2))  # noqa: T201
    else:
        verdicts = targets.check({result.name: result for result in results})
        print(table(results, skipped) + "\n" + verdicts_text(verdicts))  # noqa: T201


if __name__ == "__main__":
    main()
