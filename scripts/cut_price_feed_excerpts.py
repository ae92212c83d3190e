"""Cut the test excerpts of AWS's pricing-page feeds from a full feed folder.

    uv run python scripts/cut_price_feed_excerpts.py /work/shared/aws-price-feeds

Writes tests/infra/data/aws-price-feeds/: every feed file the importer reads, at the same
path, with its manifest and only the rows of eu-west-1 (EU (Ireland)), us-east-1 (US East
(N. Virginia)) and the locations that price every region ("Any", CloudFront's geographies)
that the importer uses or that tests/infra/test_cost.py names as look-alikes. Rows are
copied verbatim (tests check this against the full folder when it is present), so the
excerpts are AWS's own figures: the docs' hand check is worked from them.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "pulumi"))

from tenfold_infra.cost.feed_rules import RULES  # noqa: E402
from tenfold_infra.cost.feeds import LOCATIONS, discover  # noqa: E402
from tenfold_infra.cost.keys import template_instance_types  # noqa: E402

OUT = REPO / "tests" / "infra" / "data" / "aws-price-feeds"
REGIONS = ("eu-west-1", "us-east-1")
# Rows a rule must not take for the one it wants (test_cost.py asserts each is left alone).
LOOK_ALIKES = re.compile(
    r"perCPU per hour Windows|perGB per hour Windows"  # Windows Fargate
    r"|NAT Gateways with provisioned bandwidth"
    r"|Gateway Load Balancer VPC Endpoint|Idle Public IPv4"
    r"|Network Load Balancer|Gateway Load Balancer|TS Application Load Balancer Hours"
    r"|Database Storage Multi AZ readable standbys Provisioned IOPS$"
    r"|Database Storage Single AZ General Purpose-Aurora|RDS Snapshot Export MySQL"
    r"|Multi-AZ readable standbys"
    r"|Memcached"
    r"|^Single Instance mq m5\.large$|^Active Standby mq m5\.large$"  # ActiveMQ
    r"|RabbitMQ (Single Instance|Active Standby) mq m5\.large"
    r"|Alarm High Resolution|Vended Logs First 10TB|Dashboard Basic Free"
    r"|^WebACL per month$|Rules added per WebACL|Standard Infrequent Access Storage"
    r"|Request HTTP Methods from|Regional DT from (EU|United States) to Internet"
)
# Instance types the excerpts keep: the ones every snapshot carries, one it does not (for the
# `--instance-type` test) and one with a Multi-AZ DB cluster row (readable standbys), as the
# labels spell them.
KEPT_TYPES = sorted(
    template_instance_types() | {"db.m7g.large", "cache.m7g.large", "db.r6gd.large"}
)
TYPES = re.compile(
    r"\b(" + "|".join(re.escape(t.replace(".", " ", 1)) for t in KEPT_TYPES) + r")\b"
)


def _wanted(feed: str, label: str, row: dict[str, Any]) -> bool:
    rule = RULES.get(feed)
    used = rule is not None and rule(label, row) is not None
    if feed in ("rds-postgresql-ondemand", "elasticache"):
        return (used or bool(LOOK_ALIKES.search(label))) and bool(TYPES.search(label))
    return used or bool(LOOK_ALIKES.search(label))


def _cloudfront(data: dict[str, Any]) -> dict[str, Any]:
    """The EU and United States rows: HTTPS and HTTP requests, and every data-out tier, both
    labelled and keyed by SKU alone (rows of one SKU are one geography's product)."""
    named = re.compile(r"(Regional DT|Request HTTPS? Methods) from (EU|United States)\b.*")
    everywhere = data["regions"][""]
    skus = {
        str(row["rateCode"]).split(".", 1)[0]
        for label, row in everywhere.items()
        if named.fullmatch(label) and label.startswith("Regional DT")
    }
    rows = {
        label: row
        for label, row in everywhere.items()
        if named.fullmatch(label) or str(row.get("rateCode", "")).split(".", 1)[0] in skus
    }
    return {"": rows}


def cut(source: Path) -> list[Path]:
    written = []
    locations = {LOCATIONS[r] for r in REGIONS} | {"Any"}
    for feed in discover(source):
        data = json.loads((source / feed.name).read_text())
        if feed.dated_by:  # processed form: {label: {"<location> (...)": price}}
            rows = {
                label: {where: price for where, price in prices.items()
                        if any(where.startswith(f"{loc} (") or where == loc for loc in locations)}
                for label, prices in data.items()
                if _wanted(feed.feed, label, {"Instance Type": "db.x"})
            }  # fmt: skip
            excerpt: Any = {label: prices for label, prices in rows.items() if prices}
        elif feed.feed == "cloudfront":
            excerpt = {"manifest": data["manifest"], "sets": {}, "regions": _cloudfront(data)}
        else:
            regions = {}
            for location, labelled in data["regions"].items():
                rows = {
                    k: v
                    for k, v in labelled.items()
                    if location in locations and _wanted(feed.feed, k, v)
                }
                if rows:
                    regions[location] = rows
            excerpt = {"manifest": data["manifest"], "sets": {}, "regions": regions}
        path = OUT / feed.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(excerpt, indent=1, sort_keys=True) + "\n")
        written.append(path)
    return written


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    for path in cut(Path(sys.argv[1])):
        print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
