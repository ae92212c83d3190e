"""Write docs/cost-and-capacity.md from the real commands run in rendered default services.

    uv run python scripts/cost_capacity_doc.py    # renders eu-west-1 and us-east-1, rewrites the page

Every figure on the page comes from a command's output or a file: the preview's estimate of
the default prod stack, a hand check of its total worked line by line from the feed files
(the excerpts in tests/infra/data/aws-price-feeds, cut verbatim from AWS's pricing-page
feeds), `make capacity` at 500, 5,000 and 50,000 req/s in both regions, and the cost change
`cost-diff` reports for a second read replica. tests/infra/test_cost.py regenerates the page
the same way and fails when it is stale, so a new bench (docs/assets/benchmarks.json) or
price snapshot shows up here the next time the page is written.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "cost-and-capacity.md"
FEEDS = REPO / "tests" / "infra" / "data" / "aws-price-feeds"
SNAPSHOT = REPO / "pulumi" / "tenfold_infra" / "cost" / "prices.json"
# The default answers in the default region, and the same service in us-east-1.
ANSWERS: dict[str, dict[str, Any]] = {"eu-west-1": {}, "us-east-1": {"aws_region": "us-east-1"}}
RATES = (500, 5_000, 50_000)
# Where the feeds price each region, independently of the importer's own table.
LOCATION = {"eu-west-1": "EU (Ireland)", "us-east-1": "US East (N. Virginia)"}
GEOGRAPHY = {"eu-west-1": "EU", "us-east-1": "United States"}
# The estimate's units that are a multiple of the feed's unit (per request in the feeds).
PER_UNIT = {"10k requests": 10_000, "M requests": 1_000_000}


def _run(infra: Path, *args: str, stdout_only: bool = False) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tenfold_infra", *args],
        cwd=infra,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return done.stdout if stdout_only else (done.stdout + done.stderr).rstrip()


def _cost_section(preview: str) -> list[str]:
    lines = preview.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Cost ("))
    end = next(i for i in range(start, len(lines)) if lines[i] == "")
    return lines[start:end]


def feed_row(region: str, file: str, reference: str) -> tuple[str, float]:
    """(the feed's label, its price) of the row `reference` names in the feed file: a
    rateCode in a raw feed, a label (quoted) in the processed form."""
    data = json.loads((FEEDS / file).read_text())
    location = LOCATION[region]
    if reference.startswith("label "):
        label = reference.removeprefix("label ").strip("'\"")
        prices = data[label]
        price = next(p for where, p in prices.items() if where.startswith(f"{location} ("))
        return label, float(price)
    found = [
        (label, float(row["price"]))
        for where in (location, "Any", GEOGRAPHY[region], "")
        for label, row in data["regions"].get(where, {}).items()
        if row.get("rateCode") == reference
    ]
    # The label a reader finds on the pricing page, not its hash or SKU-only aliases.
    readable = [
        f for f in found if not re.fullmatch(r"[-\w]{43}( V\d)?|[A-Z0-9]{16} \S+ \w+", f[0])
    ]
    if readable or found:
        return (readable or found)[0]
    raise LookupError(f"no row with rateCode {reference} for {region} in {FEEDS / file}")


def _plain(price: float) -> str:
    """A feed price as the feed writes it, without exponent notation."""
    return f"{price:.10f}".rstrip("0").rstrip(".")


def hand_check(region: str, cost: Mapping[str, Any]) -> list[str]:
    """The estimate's total, recomputed from the feed rows each line names; raises when the
    two disagree by a cent or more."""
    sources = {s["name"]: s for s in cost["price_sources"]}
    out = [
        "| resource | item | quantity | feed file: row (rateCode or label) | feed price | "
        "USD a month |",
        "| --- | --- | ---: | --- | ---: | ---: |",
    ]
    total = 0.0
    for line in cost["lines"]:
        page = sources[line["source"]]["page"]
        label, price = feed_row(region, page, line["reference"])
        unit_usd = price * PER_UNIT.get(line["unit"], 1)
        monthly = line["quantity"] * unit_usd
        total += monthly
        scale = f" x {PER_UNIT[line['unit']]:,}" if line["unit"] in PER_UNIT else ""
        row = (
            f"{label} (processed form: no rateCode)"
            if line["reference"].startswith("label ")
            else f"{label} (`{line['reference']}`)"
        )
        out.append(
            f"| {line['resource']} | {line['item']} | {line['quantity']:,.6g} {line['unit']} | "
            f"`{page}`: {row} | ${_plain(price)}{scale} | {monthly:,.2f} |"
        )
    if abs(round(total, 2) - cost["total_monthly_usd"]) >= 0.01:
        raise AssertionError(
            f"{region}: the feed rows give ${total:,.2f}, the estimate ${cost['total_monthly_usd']:,.2f}"
        )
    out.append(f"| **total** | | | | | **{total:,.2f}** |")
    return out


def _plan_parts(output: str) -> tuple[str, str]:
    """(the plan and its config diff, the cost TOTAL line) of `capacity` output."""
    plan, _, cost = output.partition("\nCost (")
    total = next((line.strip() for line in cost.splitlines() if "TOTAL" in line), "")
    return plan.rstrip(), total


def _plan_summary(output: str) -> dict[str, str]:
    def find(pattern: str) -> str:
        match = re.search(pattern, output, re.MULTILINE)
        return match.group(1) if match else "-"

    return {
        "app": find(r"^App: (\d+ tasks min, \d+ max)"),
        "workers": find(r"^Workers: (\d+ min, \d+ max)"),
        "database": find(r"^Database: primary (\S+) \(Multi-AZ\)"),
        "replicas": find(r", (\d+) read replica"),
        "cache": find(r"^Cache: (\S+);"),
        "broker": find(r"^Broker: (\S+)"),
    }


def _cost_change(infra: Path) -> str:
    """`cost-diff` of the default service against itself with a second read replica."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for side in ("base", "head"):
            shutil.copytree(
                infra.parent,
                root / side,
                ignore=shutil.ignore_patterns("__pycache__", ".venv*", "build"),
            )
        stack = root / "head" / "infra" / "Pulumi.prod.yaml"
        text, n = re.subn(r"(:readReplicas:) \d+", r"\1 2", stack.read_text())
        assert n == 1, "the default prod stack file names readReplicas"
        stack.write_text(text)
        return _run(root / "head" / "infra", "cost-diff", "--base", str(root / "base" / "infra"),
                    "--format", "markdown")  # fmt: skip


def _sources_table() -> list[str]:
    data = json.loads(SNAPSHOT.read_text())
    rows = [
        f"| `{name}` | {s['kind']} | `{s['page']}` | {s['dated']} |"
        for name, s in data["sources"].items()
    ]
    return [
        "| source | kind | file | published |",
        "| --- | --- | --- | --- |",
        *rows,
        "",
        f"Snapshot written **{data['date']}**; {len(data['regions'])} regions; instance types "
        f"carried: {', '.join(f'`{t}`' for t in data['instance_types_carried'])}.",
    ]


def build(services: Mapping[str, Path]) -> str:
    """The page, from the prod stacks of `services` (region -> a default service's infra/)."""
    eu = services["eu-west-1"]
    preview = _run(eu, "preview", "--stack", "prod")
    costs = {r: json.loads(_run(i, "preview", "--stack", "prod", "--json", stdout_only=True))["cost"]
             for r, i in services.items()}  # fmt: skip
    plans = {(r, rps): _run(i, "capacity", "--rps", str(rps), "--read-share", "0.9")
             for r, i in services.items() for rps in RATES}  # fmt: skip
    out = [
        "# Cost and capacity",
        "",
        "Two questions come before `pulumi up`: what will this cost a month, and how many tasks,",
        "replicas and node sizes does our traffic need? Both answers come offline, from a",
        "generated service's `infra/` directory, with no Pulumi CLI and no AWS credentials; and",
        "every pull request shows what it changes in the monthly bill.",
        "",
        "| command (in the service) | what it does |",
        "| --- | --- |",
        "| `make preview STACK=prod` | the offline preview, with the estimated monthly cost of "
        "each priced part, the $0 parts with the AWS page that says so, what is not priced and "
        "why, the date of every price source and the assumptions; JSON (`JSON=1`) under `cost`, "
        "each line with its rateCode |",
        "| `make capacity RPS=5000 [READ_SHARE=0.9] [P99_MS=100] [STACK=prod] [APPLY=1]` | sizes "
        "the stack for a request rate; prints the plan, a diff of `Pulumi.<stack>.yaml` and "
        "the plan's monthly cost; `APPLY=1` writes the file (atomically) |",
        "| `cd infra && python -m tenfold_infra cost-diff --base <base checkout>/infra` | the "
        "monthly cost of every stack before and after a change, itemised where it differs "
        "(`--format markdown` is the pull request comment) |",
        "| `python -m tenfold_infra cost-refresh [--from-feeds DIR] [--region R] "
        "[--instance-type T]` | rebuilds the price snapshot from the AWS Price List offer files "
        "(where reachable), or from a folder of AWS's pricing-page feeds |",
        "",
        "## The price snapshot",
        "",
        "Prices come from `tenfold_infra/cost/prices.json`, stored in the package. Every figure",
        "names its source (the file it was read from and that file's publication date) and its",
        "`rateCode`, `<SKU>.<term>.<rate>`: the identifier the AWS Price List offer files use, so",
        "each figure can be traced to the offer file. The preview tags every line with its",
        "source's date and lists the sources; the JSON carries the rateCode of each line.",
        "",
        "- **AWS Price List offer files** are the primary source: `cost-refresh` reads them where",
        "  `pricing.us-east-1.amazonaws.com` is reachable, and a later feed import keeps them.",
        "- **AWS's pricing-page feeds** (the JSON behind `aws.amazon.com/<service>/pricing` and the",
        "  Pricing Calculator) are read by `cost-refresh --from-feeds DIR`, from public",
        "  repositories that keep snapshots of them. The snapshot in the package was built so,",
        "  from the files below. RDS PostgreSQL instance hours come from a processed copy that",
        "  keeps no rateCode; those figures name their row's label and take the date of the raw",
        "  RDS feed published with them.",
        "- **Secondary pages** (`tenfold_infra/cost/secondary.json`, kept by hand with the page",
        "  and its date) may fill a figure neither AWS source has; the estimate marks each such",
        "  line SECONDARY. The same file lists known gaps and why; the estimate repeats the why.",
        "",
        "A resource AWS makes no charge for is a $0 line naming the AWS page that says so (a",
        "security group, a CloudFront VPC origin, a gateway endpoint, a public certificate). A",
        "figure the snapshot lacks is **not priced**, with the reason, and left out of the total:",
        'never counted as $0. The total then reads "at least" and says how many parts it leaves',
        "out.",
        "",
        "The snapshot keeps only what the estimator asks for: every region's flat prices, and the",
        "RDS, ElastiCache and Amazon MQ types of the template's defaults and of `make capacity`",
        '(where AWS sells them). Another type reads "not priced" with the command that adds it:',
        "`cost-refresh --from-feeds DIR --instance-type db.m7g.large` (later refreshes keep it).",
        "",
        *_sources_table(),
        "",
        "The files are AWS's feeds as three public repositories keep them (the folder is each",
        "file's first path part): `quinnypig-aws-price-watcher` is QuinnyPig/aws-price-watcher",
        "at a6645eb (2025-06-18, MIT), `lamngockhuong-aws-price` is lamngockhuong/aws-price at",
        "508fb45 (2025-11-04; no licence stated, the figures are AWS's) and `yeo-ec2.shop` is",
        "yeo/ec2.shop at 74c9fd8 (2025-04-05, MIT). Their known gaps: no Amazon MQ `mq.m7g.*`",
        "rows (the template's brokers are all m7g, so the broker is not priced: no dated page",
        "stating those prices could be found to cite), and no row for CloudFront VPC origins (AWS",
        "makes no charge for them: a $0 line).",
        "",
        "## Refreshing the snapshot",
        "",
        "- **From the AWS Price List** (online): `python -m tenfold_infra cost-refresh` follows",
        "  `index.json` to each offer's `region_index.json` and reads every region's offer file as a",
        "  stream (AmazonEC2's runs to gigabytes). Offline, it names the URL it could not read,",
        "  exits 1 and leaves the snapshot as it was.",
        "- **From the pricing-page feeds**: `python -m tenfold_infra cost-refresh --from-feeds DIR`",
        "  reads every feed file under DIR (files named like the service, with a `manifest` and",
        "  `regions`); where two files hold one feed, the newest that has a row wins.",
        "  `tenfold_infra/cost/feed_rules.py` says which label fills which figure; each rule takes",
        "  whole labels only, so a look-alike (Windows Fargate, the NAT gateway with provisioned",
        "  bandwidth, the Network and Gateway Load Balancers, Memcached, ActiveMQ, Multi-AZ DB",
        "  clusters) never passes for the row the estimate needs.",
        "- A tiered price (data out, storage, endpoint bytes) is its first paid tier, the highest;",
        "  a free tier is skipped, as the estimate assumes none. Nothing is borrowed from another",
        "  region or size. Nothing is written until every file is read; then the snapshot is",
        "  replaced atomically.",
        "",
        "## The budget",
        "",
        "`monthlyBudget` (USD a month) in `Pulumi.<stack>.yaml` adds the `monthly-budget` policy",
        "to the preview: the preview fails when the priced parts alone exceed it, naming the",
        "largest parts.",
        "",
        "    pulumi config set monthlyBudget 2500",
        "",
        "## The default prod stack",
        "",
        "Produced by `make preview STACK=prod` in a service rendered with the default answers",
        "(eu-west-1):",
        "",
        "```text",
        *_cost_section(preview),
        "```",
        "",
        "The same stack in us-east-1 (`aws_region: us-east-1`): "
        f"**${costs['us-east-1']['total_monthly_usd']:,.2f}** a month, "
        f"{len(costs['us-east-1']['not_priced'])} part(s) not priced "
        f"({', '.join(x['resource'] for x in costs['us-east-1']['not_priced']) or 'none'}).",
        "",
        "## Hand check of the total",
        "",
        "Each line of the estimate, priced again from the row its rateCode (or label) names in",
        "the feed file, with nothing of the importer in between: the file and row, the price the",
        "feed states, the quantity the estimate assumes (730 hours, the stated traffic), and the",
        "product. The rows are quoted from `tests/infra/data/aws-price-feeds`, excerpts cut",
        "verbatim from the feed files (`scripts/cut_price_feed_excerpts.py`; the tests compare",
        "them with the full files where those are present). The script that writes this page",
        "fails if the sum differs from the preview's total by a cent.",
    ]
    for region in services:
        out += ["", f"### {region}", "", *hand_check(region, costs[region])]
        if costs[region]["not_priced"]:
            out += ["", "Not priced (not in either total):", ""]
            out += [
                f"- {x['resource']} ({x['item']}): {x['reason']}"
                for x in costs[region]["not_priced"]
            ]
    out += [
        "",
        "## The cost change on a pull request",
        "",
        "The deploy workflow's pull request job `cost-change` checks out the base branch beside",
        "the pull request, runs `cost-diff` on both checkouts and posts the result as one comment",
        "that later pushes update (a pull request from a fork, whose token cannot comment, gets",
        "it in the job summary). Each checkout runs its own offline preview; both resource lists",
        "are priced with the pull request's snapshot, so the change shows what the change to the",
        "stacks costs, not a change of prices. The comment for a change that sets",
        "`readReplicas: 2` on the default service:",
        "",
        "````markdown",
        _cost_change(eu),
        "````",
        "",
        "## How the planner sizes a stack",
        "",
        "- **Measured**: server CPU milliseconds per request and req/s of each route class (cached",
        "  read, uncached read, write; a job's cost is bounded by the inline write) from the",
        "  published `make bench` results (`docs/assets/benchmarks.json`, copied into the package",
        "  as `bench_published.json`), or your own with `BENCH=build/bench/results.json`.",
        "- **Per task, from CPU time**: a task serves its vCPUs x target utilisation x 1000 / the",
        "  mix's CPU ms a request. The req/s the bench measured is shown beside it; the plan uses",
        "  CPU time, because on the bench machine the load generator shares the cores with the",
        "  server, so measured req/s undercounts what a task serves. A bench without the CPU",
        "  column is sized by req/s, and the plan says so.",
        "- **Headroom**: a target utilisation (60%), lowered when the p99 target needs it (M/M/1:",
        "  p99 wait = ln(100) x mean service time / (1 - utilisation)); after losing one AZ the",
        "  remaining tasks run at 90% at most.",
        "- **Connections**: (app + worker tasks at their maximum) x pool size (10 + 10 overflow)",
        "  against the primary's `max_connections`, from AWS's documented formula",
        "  `LEAST({DBInstanceClassMemory/9531392}, 5000)`; Redis clients against ElastiCache's",
        "  `maxclients` (65,000).",
        "- **Assumed, not measured** (stated in every plan): PostgreSQL 400 writes and 1,500",
        "  indexed reads a vCPU per second, 80% cache hits, Redis and broker rates per node; the",
        "  bench's CPU time on the bench machine stands for a Fargate vCPU's.",
        "",
        "A request that cannot be met says which limit it hits and what would lift it.",
        "",
        "## Worked examples: 500, 5,000 and 50,000 req/s at 90% reads",
        "",
        "Produced by `make capacity RPS=<n> READ_SHARE=0.9` in the default service, in",
        "eu-west-1 and in us-east-1 (the plan is the same in both; the prices differ). A plan's",
        "cost assumes the planned rate all month, an upper bound: request charges (CloudFront,",
        "WAF, ALB capacity units) grow with it and dominate at these rates.",
        "",
        "| req/s | app tasks | workers | database | replicas | cache | broker | "
        + " | ".join(f"cost a month, {r}" for r in services)
        + " |",
        "| ---: | --- | --- | --- | ---: | --- | --- | "
        + " | ".join("---" for _ in services)
        + " |",
    ]
    for rps in RATES:
        first = plans[(next(iter(services)), rps)]
        summary = _plan_summary(first)
        totals = [_plan_parts(plans[(r, rps)])[1] or "cannot be met" for r in services]
        totals = [re.sub(r"^[\d,.]+\s+TOTAL \((.*)\)$", r"\1", t) for t in totals]
        out.append(
            f"| {rps:,} | {summary['app']} | {summary['workers']} | {summary['database']} | "
            f"{summary['replicas']} | {summary['cache']} | {summary['broker']} | "
            + " | ".join(totals)
            + " |"
        )
    for rps in RATES:
        plan, _ = _plan_parts(plans[("eu-west-1", rps)])
        out += ["", f"### {rps:,} req/s", "", "```text", plan, "```"]
    return "\n".join(out) + "\n"


def main() -> int:
    sys.path.insert(0, str(REPO / "tests" / "infra"))
    from rendered_services import render

    with tempfile.TemporaryDirectory() as scratch:
        services = {
            region: render(Path(scratch) / region / "demo-service", answers) / "infra"
            for region, answers in ANSWERS.items()
        }
        PAGE.write_text(build(services))
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
