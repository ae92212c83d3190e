"""Rebuild prices.json from the AWS Price List bulk offer files (needs the Price List reachable).

An offer file is {offerCode, publicationDate, products: {sku: {productFamily, attributes}},
terms: {OnDemand: {sku: {term: {priceDimensions: {rate: {unit, pricePerUnit: {USD}}}}}}}}.
Each rule below turns one kind of product into one snapshot key; the figure keeps the offer
file, region and publication date as its source.
https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-the-aws-price-list-bulk-api.html
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .prices import SNAPSHOT

OFFER_URL = (
    "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer}/current/{region}/index.json"
)

Attributes = Mapping[str, str]
Rule = Callable[[str, Attributes], str | None]  # (productFamily, attributes) -> key or None


def _usage(a: Attributes, *suffixes: str) -> bool:
    return any(str(a.get("usagetype", "")).endswith(s) for s in suffixes)


def _rds(family: str, a: Attributes) -> str | None:
    deployment = {"Single-AZ": "single_az", "Multi-AZ": "multi_az"}.get(
        a.get("deploymentOption", "")
    )
    if not deployment:
        return None
    if family == "Database Instance" and a.get("databaseEngine") == "PostgreSQL":
        return f"rds.instance_hour.{deployment}.{a.get('instanceType')}"
    if (
        family == "Database Storage"
        and a.get("volumeType") == "General Purpose-GP3"
        and deployment == "single_az"
    ):
        return f"rds.storage_gb_month.{deployment}.gp3"
    return None


def _elasticache(family: str, a: Attributes) -> str | None:
    if family == "Cache Instance" and a.get("cacheEngine") in ("Valkey", "Redis"):
        return f"elasticache.node_hour.{a['cacheEngine'].lower()}.{a.get('instanceType')}"
    return None


def _mq(family: str, a: Attributes) -> str | None:
    if family == "Broker Instances" and a.get("brokerEngine") == "RabbitMQ":
        return f"mq.instance_hour.{a.get('instanceType')}"
    return None


def _fargate(family: str, a: Attributes) -> str | None:
    arch = "ARM64" if "ARM" in str(a.get("usagetype", "")) else "X86_64"
    if "Windows" in str(a.get("usagetype", "")):
        return None
    if _usage(a, "Fargate-vCPU-Hours:perCPU"):
        return f"fargate.vcpu_hour.{arch}"
    if _usage(a, "Fargate-GB-Hours"):
        return f"fargate.gb_hour.{arch}"
    return None


def _ec2(family: str, a: Attributes) -> str | None:
    if family == "NAT Gateway":
        return (
            "nat.hour"
            if _usage(a, "NatGateway-Hours")
            else "nat.gb"
            if _usage(a, "NatGateway-Bytes")
            else None
        )
    if family == "Load Balancer-Application":
        return (
            "alb.hour"
            if _usage(a, "LoadBalancerUsage")
            else "alb.lcu_hour"
            if _usage(a, "LCUUsage")
            else None
        )
    if _usage(a, "PublicIPv4:InUseAddress"):
        return "public_ipv4.hour"
    return None


def _vpc(family: str, a: Attributes) -> str | None:
    if _usage(a, "VpcEndpoint-Hours"):
        return "vpc_endpoint.az_hour"
    if _usage(a, "VpcEndpoint-Bytes"):
        return "vpc_endpoint.gb"
    return None


def _simple(mapping: Mapping[str, str]) -> Rule:
    def rule(family: str, a: Attributes) -> str | None:
        return next((key for suffix, key in mapping.items() if _usage(a, suffix)), None)

    return rule


RULES: dict[str, Rule] = {
    "AmazonRDS": _rds,
    "AmazonElastiCache": _elasticache,
    "AmazonMQ": _mq,
    "AmazonECS": _fargate,
    "AmazonEC2": _ec2,
    "AmazonVPC": _vpc,
    "AmazonCloudFront": _simple(
        {
            "DataTransfer-Out-Bytes": "cloudfront.gb_out",
            "Requests-Tier2-HTTPS": "cloudfront.https_10k",
        }
    ),
    "awswaf": _simple(
        {"WebACL": "waf.web_acl_month", "Rule": "waf.rule_month", "Request": "waf.million_requests"}
    ),
    "AWSSecretsManager": _simple({"AWSSecretsManager-Secrets": "secretsmanager.secret_month"}),
    "AmazonCloudWatch": _simple(
        {
            "CW:AlarmMonitorUsage": "cloudwatch.alarm_month",
            "DashboardsUsageHour-Basic": "cloudwatch.dashboard_month",
            "DataProcessing-Bytes": "cloudwatch.logs_ingest_gb",
        }
    ),
    "AmazonECR": _simple({"TimedStorage-ByteHrs": "ecr.storage_gb_month"}),
    "AmazonS3": _simple({"TimedStorage-ByteHrs": "s3.storage_gb_month"}),
}
# Offer files quote these per request: scale to the snapshot key's unit.
SCALE = {"cloudfront.https_10k": 10_000.0, "waf.million_requests": 1_000_000.0}


def parse_offer(offer: Mapping[str, Any], region: str) -> dict[str, dict[str, Any]]:
    """The snapshot entries of one offer file: the first tier (beginRange 0) of each OnDemand
    price of a product a rule recognises, in `region`."""
    code = str(offer["offerCode"])
    rule = RULES[code]
    source = f"AWS Price List bulk offer file {code} {region}, published {offer.get('publicationDate', '?')}"
    on_demand: Mapping[str, Any] = offer.get("terms", {}).get("OnDemand", {})
    found: dict[str, dict[str, Any]] = {}
    for sku, product in offer.get("products", {}).items():
        attributes = product.get("attributes", {})
        if attributes.get("regionCode", region) != region:
            continue
        key = rule(str(product.get("productFamily", "")), attributes)
        if key is None or key in found:
            continue
        for term in on_demand.get(sku, {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                if str(dimension.get("beginRange", "0")) != "0":
                    continue
                usd = float(dimension["pricePerUnit"]["USD"]) * SCALE.get(key, 1.0)
                if usd > 0:
                    found[key] = {"usd": usd, "source": source}
    return found


def download(
    offer: str, region: str, opener: Callable[[str], Any] = urllib.request.urlopen
) -> dict[str, Any]:
    with opener(OFFER_URL.format(offer=offer, region=region)) as response:
        return json.load(response)  # type: ignore[no-any-return]


def rebuild(
    regions: Iterable[str],
    fetch: Callable[[str, str], Mapping[str, Any]] = download,
    path: Path = SNAPSHOT,
) -> dict[str, int]:
    """Replace the figures of `regions` with the offer files' and write the snapshot atomically;
    returns how many figures each region now has."""
    data = json.loads(path.read_text())
    counts = {}
    for region in regions:
        figures: dict[str, dict[str, Any]] = {}
        for offer in RULES:
            entries = parse_offer(fetch(offer, region), region)
            figures.update(entries)
            for entry in entries.values():
                data["sources"][entry["source"]] = {
                    "page": OFFER_URL.format(offer=offer, region=region),
                    "states": f"{offer} OnDemand prices for {region}",
                    "dated": entry["source"].rsplit("published ", 1)[-1],
                }
        data["regions"][region] = dict(sorted(figures.items()))
        counts[region] = len(figures)
    data["date"] = datetime.now(UTC).date().isoformat()
    data["how"] = (
        "Rebuilt by `python -m tenfold_infra cost-refresh` from the AWS Price List bulk offer "
        "files; every figure names its offer file, region and publication date."
    )
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".json")
    with os.fdopen(handle, "w") as out:
        json.dump(data, out, indent=2)
        out.write("\n")
    os.replace(temporary, path)
    return counts
