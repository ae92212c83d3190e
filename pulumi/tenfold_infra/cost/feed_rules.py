"""Which pricing-page feed row fills which snapshot key: one rule per feed.

AWS's pricing pages read one JSON feed a service (`manifest.source` names it) whose rows are
`regions[<location>][<label>] = {price, rateCode, ...}`. A label is the text the page shows
("Hourly charge for NAT Gateways"); many rows also appear under a hash of that text, which
the rules ignore. Each rule matches whole labels, so a look-alike never passes for the row
the estimate needs: the NAT gateway with provisioned bandwidth, the Network and Gateway Load
Balancers, Memcached nodes, ActiveMQ brokers, MySQL instances, Windows Fargate tasks.
A tiered price is its first paid tier, as the offer-file refresh takes it.

Labels were read from the feeds themselves (the folder `cost-refresh --from-feeds` reads);
tests/infra/data/aws-price-feeds holds excerpts of those files with each look-alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Row = Mapping[str, Any]
FeedRule = Callable[[str, Row], str | None]  # (label, row) -> snapshot key


def _exact(labels: Mapping[str, str]) -> FeedRule:
    return lambda label, row: labels.get(label)


FARGATE = _exact(
    {
        "perCPU per hour": "fargate.vcpu_hour.X86_64",
        "perGB per hour": "fargate.gb_hour.X86_64",
        "ARM perCPU per hour": "fargate.vcpu_hour.ARM64",
        "ARM perGB per hour": "fargate.gb_hour.ARM64",
    }
)
NAT_GATEWAY = _exact(
    {
        "Hourly charge for NAT Gateways": "nat.hour",
        "Charge for per GB data processed by NatGateways": "nat.gb",
    }
)
VPC = _exact(
    {
        "Hourly charge for VPC Endpoints per Hrs": "vpc_endpoint.az_hour",
        # Endpoint bytes fall with volume (1 PB, 4 PB, more): the first tier.
        "Charge for per GB data processed by VPC Endpoints per GB from 0 to 1048576": (
            "vpc_endpoint.gb"
        ),
        "Hourly charge for In use Public IPv4 Addresses per Hrs": "public_ipv4.hour",
    }
)
ELB = _exact(
    {
        "Application Load Balancer Hours": "alb.hour",
        "Application Load Balancer LCU Hours": "alb.lcu_hour",
    }
)
SECRETS_MANAGER = _exact({"Secret": "secretsmanager.secret_month"})
ECR = _exact({"EC2 Container Registry": "ecr.storage_gb_month"})
S3 = _exact({"Standard Storage First 50 TB per GB Mo": "s3.storage_gb_month"})
CLOUDWATCH = _exact(
    {
        "Alarm Standard": "cloudwatch.alarm_month",
        "Logs Collected Data Ingestion": "cloudwatch.logs_ingest_gb",
        # Priced once, under the location "Any"; the free first three are not counted.
        "Dashboard Basic Dashboard": "cloudwatch.dashboard_month",
    }
)
# The page shows two sets of WAF rows at the same prices. These are the ones that sit with
# the web ACL capacity (WCU) request tiers of today's AWS WAF; "WebACL per month" and
# "Rules added per WebACL per month" are the other set.
WAF = _exact(
    {
        "Web ACL Activated per Month": "waf.web_acl_month",
        "Rule Activated per Month": "waf.rule_month",
        "Request Processed Tier1 per Request": "waf.million_requests",
    }
)

# "Database Storage Single AZ General Purpose-GP3"; Multi-AZ rows are two copies' price.
# Not "Multi AZ readable standbys" (Multi-AZ DB clusters), "SQL Server Mirror" or "-Aurora".
RDS_STORAGE_VOLUMES = {
    "General Purpose": "gp2",
    "General Purpose-GP3": "gp3",
    "Provisioned IOPS": "io1",
    "Provisioned IOPS-IO2": "io2",
    "Magnetic": "standard",
}
_RDS_STORAGE = re.compile(r"Database Storage (Single|Multi) AZ (.+)")


def rds_storage(label: str, row: Row) -> str | None:
    match = _RDS_STORAGE.fullmatch(label)
    volume = RDS_STORAGE_VOLUMES.get(match.group(2)) if match else None
    if match is None or volume is None:
        return None
    return f"rds.storage_gb_month.{match.group(1).lower()}_az.{volume}"


# "Database Instance PostgreSQL No license required db r7g.large Memory optimized Multi-AZ
# Current Generation"; the class itself is read from the row's "Instance Type" attribute.
# Not "Multi-AZ readable standbys" (a Multi-AZ DB cluster), not another engine.
_RDS_INSTANCE = re.compile(r"Database Instance PostgreSQL .+ (Single-AZ|Multi-AZ) \w+ Generation")


def rds_instance(label: str, row: Row) -> str | None:
    match = _RDS_INSTANCE.fullmatch(label)
    size = str(row.get("Instance Type", ""))
    if match is None or not size.startswith("db."):
        return None
    return f"rds.instance_hour.{match.group(1).replace('-', '_').lower()}.{size}"


# "OnDemand Cache Instance Memory optimized cache r7g.large Valkey Current Generation"
# (data tiering nodes add "datatiering"); Memcached rows are other nodes.
_CACHE_NODE = re.compile(r"OnDemand Cache Instance .+ (Valkey|Redis)( datatiering)? \w+ Generation")


def elasticache(label: str, row: Row) -> str | None:
    match = _CACHE_NODE.fullmatch(label)
    size = str(row.get("Instance Type", ""))
    if match is None or not size.startswith("cache."):
        return None
    return f"elasticache.node_hour.{match.group(1).lower()}.{size}"


# "RabbitMQ Single Instance mq m5.large"; the RabbitMQ cluster is labelled "RabbitMQ Active
# Standby" and priced as its three nodes. Rows without "RabbitMQ" are ActiveMQ brokers.
_RABBITMQ = re.compile(r"RabbitMQ (Single Instance|Active Standby) mq (\S+)")


def amazon_mq(label: str, row: Row) -> str | None:
    match = _RABBITMQ.fullmatch(label)
    if match is None:
        return None
    deployment = "single_az" if match.group(1) == "Single Instance" else "multi_az"
    return f"mq.broker_hour.{deployment}.mq.{match.group(2)}"


# CloudFront's rows are keyed by viewer geography, not region (see cloudfront_figures).
_CLOUDFRONT_HTTPS = re.compile(r"Request HTTPS Methods from (.+)")
_CLOUDFRONT_TRANSFER = re.compile(r"Regional DT from (.+) to Internet .+")

RULES: dict[str, FeedRule] = {
    "ecs": FARGATE,
    "natgateway": NAT_GATEWAY,
    "vpc": VPC,
    "elb": ELB,
    "rds-storage": rds_storage,
    "rds-postgresql-ondemand": rds_instance,
    "elasticache": elasticache,
    "mq": amazon_mq,
    "secretsmanager": SECRETS_MANAGER,
    "ecr": ECR,
    "s3": S3,
    "cloudwatch": CLOUDWATCH,
    "waf": WAF,
}
# Feeds quote these per request: scale to the snapshot key's unit.
SCALE = {"cloudfront.https_10k": 10_000.0, "waf.million_requests": 1_000_000.0}


def cloudfront_figures(regions: Mapping[str, Mapping[str, Row]]) -> dict[str, dict[str, Row]]:
    """{geography: {key: row}} from the CloudFront feed: HTTPS requests by their labelled
    geography; data out to the internet at its first paid tier. Transfer rows are grouped by
    SKU (a rateCode's first part), which names one geography's product: a row the feed keys
    by SKU alone takes the geography of a labelled row of the same SKU, and the first tier is
    the one with the smallest monthly bound ("Per Month", in GB)."""
    found: dict[str, dict[str, Row]] = {}
    tiers: dict[str, list[Row]] = {}
    geography_of: dict[str, str] = {}
    for rows in regions.values():
        for label, row in rows.items():
            https = _CLOUDFRONT_HTTPS.fullmatch(label)
            if https:
                found.setdefault(https.group(1), {}).setdefault("cloudfront.https_10k", row)
            if "Per Month" not in row:
                continue
            sku = str(row.get("rateCode", "")).split(".", 1)[0]
            tiers.setdefault(sku, []).append(row)
            transfer = _CLOUDFRONT_TRANSFER.fullmatch(label)
            if transfer:
                geography_of[sku] = transfer.group(1)
    for sku, geography in geography_of.items():
        paid = [r for r in tiers[sku] if float(r.get("price", 0)) > 0]
        if paid:
            first = min(paid, key=lambda r: float(str(r["Per Month"]).replace("Inf", "inf")))
            found.setdefault(geography, {})["cloudfront.gb_out"] = first
    return found


def cloudfront_geography(region: str) -> str:
    """The pricing-page geography of viewers near `region` (the estimate's assumption)."""
    if region in ("ap-northeast-1", "ap-northeast-3"):
        return "Japan"
    if region in ("ap-southeast-2", "ap-southeast-4", "ap-southeast-6"):
        return "Australia"
    if region in ("ap-south-1", "ap-south-2"):
        return "India"
    prefixes = {"us": "United States", "mx": "United States", "ca": "Canada", "eu": "EU",
                "il": "EU", "me": "Middle East", "af": "South Africa", "sa": "South America",
                "ap": "Asia Pacific"}  # fmt: skip
    return prefixes.get(region.split("-", 1)[0], "United States")
