"""The benchmark's outputs from one run's JSON: a text table, markdown and a PNG chart.

`scripts/bench.py` calls `write_all` after every run, smoke or full, so CI's smoke draws
the same chart and table as the published run. The input is bench.run's report plus a
`run` section (profile, items, machine load, tools).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The generated service's bench package: its comparison is the one this report prints.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "template"))
from bench.results import Result, versus_twin

# Page scenarios load the page plus this many assets per page view.
PAGE_REQUESTS = 21
TUNED, TWIN, REFERENCE = "#1f77b4", "#ff7f0e", "#7f7f7f"
CEILING = "hello-ceiling"
SHORT_GOALS = {
    "healthz-vs-ceiling": "/healthz / ceiling req/s >= 0.85",
    "cached-read-vs-ceiling": "cached read / ceiling req/s >= 0.70",
    "cached-list-vs-ceiling": "cached list br / ceiling req/s >= 0.50",
    "uncached-read-vs-ceiling": "uncached read / ceiling req/s >= 0.30",
    "keyset-deep-vs-ceiling": "keyset deep br / ceiling req/s >= 0.08",
    "keyset-deep-vs-first": "keyset deep / first page p50 <= 1.3",
    "brotli-vs-identity": "identity / brotli bytes >= 5",
    "cached-read-tail": "cached read p99 / p50 <= 3",
    "cached-list-tail": "cached list p99 / p50 <= 3",
    "cached-read-cpu": "cached read / ceiling CPU ms <= 1.43",
    "server-rss": "peak RSS per process <= 512 MiB",
}


@dataclass(frozen=True, slots=True)
class Outputs:
    json: Path
    markdown: Path
    png: Path


def results_by_name(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {result["name"]: result for result in data["results"]}


def versus(result: Mapping[str, Any], twin: Mapping[str, Any]) -> str:
    """bench.run's own comparison of this row with its twin, naming the twin."""
    return f"{versus_twin(Result(**result), Result(**twin))} vs {twin['name']}"


def rows(data: Mapping[str, Any]) -> list[list[str]]:
    by_name = results_by_name(data)
    table = []
    for result in data["results"]:
        twin = by_name.get(result.get("twin") or "")
        table.append(
            [
                result["name"],
                f"{result['requests_per_second']:,.0f}",
                f"{result['p50_ms']:.2f}",
                f"{result['p99_ms']:.2f}",
                str(result["errors"]),
                f"{result['bytes_per_request']:,.0f}",
                "" if result.get("server_cpu_ms") is None else f"{result['server_cpu_ms']:.3f}",
                "" if result.get("server_rss_mb") is None else f"{result['server_rss_mb']:.0f}",
                ""
                if result.get("share_of_ceiling") is None
                else f"{result['share_of_ceiling']:.2f}",
                versus(result, twin) if twin else "",
            ]
        )
    return table


HEADER = [
    "scenario", "req/s", "p50 ms", "p99 ms", "errors", "bytes/resp", "server CPU ms/req",
    "peak RSS MiB", "x ceiling", "vs twin",
]  # fmt: skip


def context_line(data: Mapping[str, Any]) -> str:
    run, bounds = data["run"], data["bounds"]
    load = run["machine_before"]["load_average_1m_5m_15m"]
    return (
        f"{run['profile']} run, {run['generated_at']}: {run['items']:,} items, deep page at "
        f"{bounds['depth']:,}; {run['server_processes']} server processes ({run['server']}) on "
        f"{run['machine_before']['cpus']} CPUs shared with the load generator; "
        f"{bounds['duration_seconds']:g} s per scenario after {bounds['warmup_seconds']:g} s "
        f"warm-up, {bounds['connections']} connections (wrk), {bounds['browsers']} browsers "
        f"(h2load); load average before {load[0]:.2f}"
    )


def text_report(data: Mapping[str, Any]) -> str:
    table = [HEADER, *rows(data)]
    widths = [max(len(row[column]) for row in table) for column in range(len(HEADER) - 1)]
    lines = [context_line(data), ""]
    for row in table:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:-1], widths[1:], strict=True)]
        lines.append("  ".join([*cells, row[-1]]))
    lines.extend(f"{name}: skipped, {reason}" for name, reason in data["skipped"].items())
    lines += ["", "targets:"]
    for target in data["targets"]:
        lines.append(f"  {target['status']:<7} {target['goal']}: {target['measured'] or '-'}")
        if target["note"]:
            lines.append(f"          why and what would fix it: {target['note']}")
    return "\n".join(lines)


def markdown(data: Mapping[str, Any]) -> str:
    """The table the docs site includes (docs/assets/benchmarks-table.md)."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    lines = [
        f"_{context_line(data)}._",
        "",
        "Reproduce with `make bench` in the template repository (wrk, h2load, redis-server and "
        "PostgreSQL on the machine). `x ceiling` is each row's req/s as a share of "
        "`hello-ceiling`, a bare FastAPI app on the same server with as many processes; "
        "`vs twin` compares a row with its untuned twin in the same run; server CPU ms/req is "
        "the server processes' CPU time per request, which other load on the machine moves "
        "less than req/s; peak RSS is the largest of one server process so far.",
        "",
        line(HEADER),
        line(["---", *(["---:"] * (len(HEADER) - 2)), "---"]),
    ]
    lines += [line([f"`{row[0]}`", *row[1:]]) for row in rows(data)]
    if data["skipped"]:
        lines += [
            "",
            *(f"- `{name}` skipped: {reason}" for name, reason in data["skipped"].items()),
        ]
    lines += ["", line(["target", "measured", "result"]), line(["---", "---", "---"])]
    for target in data["targets"]:
        lines.append(line([target["goal"], target["measured"] or "-", f"**{target['status']}**"]))
    notes = [target for target in data["targets"] if target["note"]]
    if notes:
        lines.append("")
        lines += [f"- **{t['name']}** missed: {t['note']}" for t in notes]
    return "\n".join(lines) + "\n"


def chart(data: Mapping[str, Any], path: Path) -> None:
    """Five panels, each tuned scenario beside its untuned twin, with the targets drawn."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    by_name = results_by_name(data)
    figure, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    figure.suptitle(
        "tenfold benchmarks: each tuned path beside its untuned twin, same server, same run",
        fontsize=14,
        fontweight="bold",
    )

    def bars(
        axis: Any,
        title: str,
        unit: str,
        entries: list[tuple[str, str, str]],
        metric: str,
        scale: float = 1.0,
    ) -> dict[str, float]:
        shown = [(label, name, color) for label, name, color in entries if name in by_name]
        values = {name: by_name[name][metric] * scale for _, name, _ in shown}
        positions = range(len(shown))
        axis.bar(positions, [values[name] for _, name, _ in shown], color=[c for *_, c in shown])
        axis.set_xticks(list(positions), [label for label, _, _ in shown], fontsize=9)
        axis.set_title(title, fontsize=11)
        axis.set_ylabel(unit)
        for position, (_, name, _) in zip(positions, shown, strict=True):
            axis.annotate(
                f"{values[name]:,.1f}" if values[name] < 100 else f"{values[name]:,.0f}",
                (position, values[name]),
                ha="center",
                va="bottom",
                fontsize=9,
            )
        axis.margins(y=0.18)
        return values

    def target_line(axis: Any, value: float, label: str) -> None:
        axis.axhline(value, color="#d62728", linestyle="--", linewidth=1.2)
        axis.annotate(
            label,
            (0.99, value),
            xycoords=("axes fraction", "data"),
            ha="right",
            va="bottom",
            color="#d62728",
            fontsize=8,
        )

    reads = bars(
        axes[0][0],
        "Item read (higher is better)",
        "requests/s",
        [
            ("bare\nFastAPI", CEILING, REFERENCE),
            ("/healthz", "healthz", REFERENCE),
            ("cached", "item-read-cached", TUNED),
            ("uncached", "item-read-uncached", TWIN),
        ],
        "requests_per_second",
    )
    if CEILING in reads:
        target_line(axes[0][0], reads[CEILING] * 0.7, "target: cached ≥ 70% of ceiling")

    pages = bars(
        axes[0][1],
        "List page at depth (lower is better)",
        "p50 latency, ms",
        [
            ("first page\n(cached)", "list-first-page", REFERENCE),
            ("keyset\nfirst", "list-keyset-first", TUNED),
            ("keyset\ndeep", "list-keyset-deep", TUNED),
            ("offset\ndeep", "list-offset-deep", TWIN),
        ],
        "p50_ms",
    )
    if "list-keyset-first" in pages:
        target_line(axes[0][1], pages["list-keyset-first"] * 1.3, "target: deep ≤ 1.3x first")

    sizes = bars(
        axes[0][2],
        "100-item list payload (lower is better)",
        "KiB per response",
        [
            ("identity", "list-payload-identity", TWIN),
            ("gzip", "list-payload-gzip", TUNED),
            ("brotli", "list-payload-brotli", TUNED),
        ],
        "bytes_per_request",
        1 / 1024,
    )
    if "list-payload-identity" in sizes:
        target_line(axes[0][2], sizes["list-payload-identity"] / 5, "target: brotli ≤ identity / 5")

    bars(
        axes[1][0],
        "Create item + job (lower is better)",
        "p50 latency, ms",
        [("job via\noutbox", "write-with-job", TUNED), ("job work\ninline", "write-inline", TWIN)],
        "p50_ms",
    )
    bars(
        axes[1][1],
        f"Page + {PAGE_REQUESTS - 1} assets (higher is better)",
        "page loads/s",
        [("HTTP/2\n(h2c)", "page-http2", TUNED), ("HTTP/1.1\n6 conns", "page-http1", TWIN)],
        "requests_per_second",
        1 / PAGE_REQUESTS,
    )

    verdicts = axes[1][2]
    verdicts.axis("off")
    verdicts.set_title("Targets", fontsize=11)
    text = "\n".join(
        f"{t['status']:<5} {SHORT_GOALS.get(t['name'], t['name'])}: "
        f"{t['ratio'] if t['ratio'] is not None else '-'}"
        for t in data["targets"]
    )
    verdicts.text(0.0, 0.97, text, va="top", fontsize=7.5, family="monospace")
    legend = [
        mpl.patches.Patch(color=c, label=label)
        for c, label in ((TUNED, "tuned"), (TWIN, "untuned twin"), (REFERENCE, "reference"))
    ]
    verdicts.legend(handles=legend, loc="lower left", fontsize=9, frameon=False)
    context = context_line(data)
    middle = context.index("; ", len(context) // 3) + 2
    figure.text(0.5, 0.005, context[:middle] + "\n" + context[middle:], ha="center", fontsize=8)
    figure.tight_layout(rect=(0, 0.05, 1, 0.96))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_all(data: Mapping[str, Any], directory: Path) -> Outputs:
    outputs = Outputs(
        json=directory / "results.json",
        markdown=directory / "benchmarks-table.md",
        png=directory / "benchmarks.png",
    )
    outputs.json.write_text(json.dumps(data, indent=2) + "\n")
    outputs.markdown.write_text(markdown(data))
    chart(data, outputs.png)
    return outputs


def main(argv: Sequence[str] | None = None) -> None:
    """Redraw the outputs from a results.json: `python scripts/bench_report.py FILE [DIR]`."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="scripts/bench_report.py", description="Redraw a benchmark run's table and chart."
    )
    parser.add_argument("results", type=Path, help="a results.json written by `make bench`")
    parser.add_argument(
        "directory", type=Path, nargs="?", help="where to write (default: beside the results)"
    )
    args = parser.parse_args(argv)
    try:
        data = json.loads(args.results.read_text())
    except (OSError, ValueError) as error:
        parser.error(f"cannot read {args.results} as a results.json from `make bench`: {error}")
    outputs = write_all(data, args.directory or args.results.parent)
    print(f"wrote {outputs.json}, {outputs.markdown}, {outputs.png}")


if __name__ == "__main__":
    main()
