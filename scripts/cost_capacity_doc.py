"""Write docs/cost-and-capacity.md from the real commands run in a rendered service.

    uv run python scripts/cost_capacity_doc.py    # renders a us-east-1 service, rewrites the page

tests/infra/test_cost.py regenerates the page the same way and fails when it is stale.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "cost-and-capacity.md"
# The answer set the page is produced from: the priced region, otherwise the defaults'
# shape (Amazon MQ, CloudFront), three replicas and a domain (tests/infra's domain-3-replicas).
ANSWERS = {
    "domain_name": "api.example.com",
    "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    "read_replicas": 3,
    "aws_region": "us-east-1",
}
RATES = (500, 5_000, 50_000)


def _run(infra: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tenfold_infra", *args],
        cwd=infra,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return (done.stdout + done.stderr).rstrip()


def _snapshot_sources() -> list[str]:
    data = json.loads((REPO / "pulumi/tenfold_infra/cost/prices.json").read_text())
    return [
        f"| `{key}` | {s['states']} | <{s['page']}> | {s['dated']} |"
        for key, s in data["sources"].items()
    ] + [f"\nSnapshot date: **{data['date']}**; regions priced: {', '.join(data['regions'])}."]


def build(infra: Path) -> str:
    preview = _run(infra, "preview", "--stack", "prod").splitlines()
    start = next(i for i, line in enumerate(preview) if line.startswith("Cost ("))
    end = next(i for i in range(start, len(preview)) if preview[i] == "")
    plans = [
        (rps, _run(infra, "capacity", "--rps", str(rps), "--read-share", "0.9")) for rps in RATES
    ]
    out = [
        "# Cost and capacity",
        "",
        "Two questions come before `pulumi up`: what will this cost a month, and how many tasks,",
        "replicas and node sizes does our traffic need? Both answers come offline, from a",
        "generated service's `infra/` directory, with no Pulumi CLI and no AWS credentials.",
        "",
        "| command (in the service) | what it does |",
        "| --- | --- |",
        "| `make preview STACK=prod` | the offline preview, with the estimated monthly cost of "
        "each priced resource, the total and the assumptions; JSON (`JSON=1`) under `cost` |",
        "| `make capacity RPS=5000 [READ_SHARE=0.9] [P99_MS=100] [STACK=prod] [APPLY=1]` | sizes "
        "the stack for a request rate; prints the plan, a diff of `Pulumi.<stack>.yaml` and "
        "the plan's monthly cost; `APPLY=1` writes the file (atomically) |",
        "| `python -m tenfold_infra cost-refresh [--region eu-west-1]` | rebuilds the price "
        "snapshot from the AWS Price List bulk offer files, for every supported region or the "
        "ones named (needs the Price List reachable) |",
        "",
        "## The price snapshot",
        "",
        "Prices come from `tenfold_infra/cost/prices.json`, stored in the package with its date",
        "and the source of every figure. A resource type or region without a figure is listed as",
        "**not priced** and left out of the total, never counted as $0: the total is then a lower",
        "bound and says how many parts it leaves out. The snapshot in the package was compiled",
        "offline from the pages below; `cost-refresh` replaces it with the offer files' own",
        "figures (each then names its offer file, region and publication date).",
        "",
        "| source | states | page | dated |",
        "| --- | --- | --- | --- |",
        *_snapshot_sources(),
        "",
        "## Refreshing the snapshot",
        "",
        "Where `pricing.us-east-1.amazonaws.com` is reachable, one run of `cost-refresh` fills",
        "every figure the estimate uses, for every region `copier.yml` offers. For each offer",
        "(AmazonECS, AmazonRDS, AmazonElastiCache, AmazonMQ, AmazonEC2, AmazonVPC, AWSELB,",
        "AmazonCloudFront, awswaf, AWSSecretsManager, AmazonCloudWatch, AmazonECR, AmazonS3) it",
        "follows the Price List's `index.json` to the offer's `region_index.json` and reads each",
        "region's current offer file as a stream (AmazonEC2's runs to gigabytes); CloudFront's",
        "one global file is priced for the viewers' geography nearest the stack's region.",
        "",
        "- The rules that turn a product into a figure are in `tenfold_infra/cost/rules.py`, each",
        "  naming where its attribute names and values come from.",
        "- A tiered price (data out, storage, endpoint bytes) is its first paid tier, the highest:",
        "  a free tier is skipped, as the estimate assumes none.",
        "- A region without a product keeps that item **not priced**: nothing is borrowed from",
        "  another region or size.",
        "- Every figure's source names the offer file's URL, offer version and publication date.",
        "- Nothing is written until every file has been read; then the snapshot is replaced",
        "  atomically. Offline, the command names the URL and service it could not read, exits 1",
        "  and leaves the snapshot as it was.",
        "",
        "## The budget",
        "",
        "`monthlyBudget` (USD a month) in `Pulumi.<stack>.yaml` adds the `monthly-budget` policy",
        "to the preview: the preview fails when the priced parts alone exceed it, naming the",
        "largest parts.",
        "",
        "    pulumi config set monthlyBudget 2500",
        "",
        "## The preview's estimate of the prod stack",
        "",
        f"Produced by `make preview STACK=prod` in a service rendered with `{json.dumps(ANSWERS)}`:",
        "",
        "```text",
        *preview[start:end],
        "```",
        "",
        "## How the planner sizes a stack",
        "",
        "- **Measured**: per-process throughput and server CPU per request of each route class",
        "  (cached read, uncached read, write; a job's cost is bounded by the inline write) from",
        "  the published `make bench` results (`docs/assets/benchmarks.json`, copied into the",
        "  package as `bench_published.json`), or your own with `BENCH=build/bench/results.json`.",
        "- **Mix**: one process serves the read/write mix at the harmonic mean of its routes' rates.",
        "- **Headroom**: a target utilisation (60%), lowered when the p99 target needs it (M/M/1:",
        "  p99 wait = ln(100) x mean service time / (1 - utilisation)); after losing one AZ the",
        "  remaining tasks run at 90% at most.",
        "- **Connections**: (app + worker tasks at their maximum) x pool size (10 + 10 overflow)",
        "  against the primary's `max_connections`, from AWS's documented formula",
        "  `LEAST({DBInstanceClassMemory/9531392}, 5000)`; Redis clients against ElastiCache's",
        "  `maxclients` (65,000).",
        "- **Assumed, not measured** (stated in every plan): PostgreSQL 400 writes and 1,500",
        "  indexed reads a vCPU per second, 80% cache hits, Redis and broker rates per node.",
        "",
        "A request that cannot be met says which limit it hits and what would lift it.",
        "",
        "## Worked examples: 500, 5,000 and 50,000 req/s at 90% reads",
        "",
        "Produced by `make capacity RPS=<n> READ_SHARE=0.9` in the same service:",
    ]
    for rps, text in plans:
        out += ["", f"### {rps:,} req/s", "", "```text", text, "```"]
    return "\n".join(out) + "\n"


def main() -> int:
    sys.path.insert(0, str(REPO / "tests" / "infra"))
    from rendered_services import render

    with tempfile.TemporaryDirectory() as scratch:
        root = render(Path(scratch) / "demo-service", ANSWERS)
        PAGE.write_text(build(root / "infra"))
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
