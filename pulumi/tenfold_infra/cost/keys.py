"""Every price the estimator can ask for, named once: the snapshot's vocabulary.

A key names one unit price in one region, such as `nat.hour` or
`rds.instance_hour.multi_az.db.r7g.large`. The estimator builds keys from a stack's
resources; both importers (the Price List offer files, the pricing-page feeds) keep only
the figures `asks_for` accepts, so the stored snapshot stays small: every region's flat
prices, and the instance types the template's stacks and capacity planner use (its knob
defaults, dev and prod, and the planner's ladders) plus those a user adds with
`cost-refresh --instance-type` (the snapshot lists them, so a later refresh keeps them).
A type is kept only where it is sold (policies/instance_types.json, cfn-lint's region data,
which the preview's `instance-types-sold-in-region` policy reads too).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from ..policies.platform import sold_in

# copier.yml's aws_region choices (tests/infra/test_cost.py keeps the two lists equal).
REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    "af-south-1",
    "ap-east-1", "ap-east-2", "ap-south-1", "ap-south-2",
    "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
    "ap-southeast-6", "ap-southeast-7",
    "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ca-central-1", "ca-west-1",
    "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1",
    "eu-south-2", "eu-north-1",
    "il-central-1", "me-south-1", "me-central-1", "mx-central-1", "sa-east-1",
)  # fmt: skip
ARCHITECTURES = ("X86_64", "ARM64")
FLAT = frozenset(
    [f"fargate.{unit}.{arch}" for unit in ("vcpu_hour", "gb_hour") for arch in ARCHITECTURES]
    + [
        "nat.hour",
        "nat.gb",
        "public_ipv4.hour",
        "vpc_endpoint.az_hour",
        "vpc_endpoint.gb",
        "alb.hour",
        "alb.lcu_hour",
        "cloudfront.gb_out",
        "cloudfront.https_10k",
        "waf.web_acl_month",
        "waf.rule_month",
        "waf.million_requests",
        "secretsmanager.secret_month",
        "cloudwatch.alarm_month",
        "cloudwatch.dashboard_month",
        "cloudwatch.logs_ingest_gb",
        "ecr.storage_gb_month",
        "s3.storage_gb_month",
    ]
)
DEPLOYMENTS = ("single_az", "multi_az")
RDS_VOLUMES = ("gp2", "gp3", "io1", "io2", "standard")
CACHE_ENGINES = ("valkey", "redis")
# Key prefix -> the instance-type family of policies/instance_types.json that lists its types.
INSTANCE_KEYS = {
    **{f"rds.instance_hour.{d}.": ("rds", "postgres") for d in DEPLOYMENTS},
    **{f"elasticache.node_hour.{e}.": ("elasticache",) for e in CACHE_ENGINES},
    **{f"mq.broker_hour.{d}.": ("mq",) for d in DEPLOYMENTS},
}


@cache
def _sold() -> dict[str, Any]:
    path = Path(__file__).parents[1] / "policies" / "instance_types.json"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _family(path: tuple[str, ...]) -> dict[str, Any]:
    data: dict[str, Any] = _sold()
    for part in path:
        data = data[part]
    return data


def template_instance_types() -> frozenset[str]:
    """The RDS, ElastiCache and Amazon MQ types of the knob defaults (dev and prod) and of
    the capacity planner's ladders: the types every snapshot carries."""
    from ..capacity import BROKERS, CACHE_NODES, DB_CLASSES
    from ..config import COMPONENT_SETTINGS
    from ..knobs import SAME_AS_PROD, knobs_of

    defaults = {
        value
        for settings in COMPONENT_SETTINGS.values()
        for _, knob, prod in knobs_of(settings)
        if knob.key in ("dbInstanceClass", "cacheNodeType", "brokerInstanceType")
        for value in (prod, knob.dev)
        if value is not SAME_AS_PROD
    }
    return frozenset({str(v) for v in defaults} | set(DB_CLASSES) | set(CACHE_NODES) | set(BROKERS))


def sold_anywhere(instance_type: str) -> bool:
    """Whether AWS sells `instance_type` for PostgreSQL, ElastiCache or Amazon MQ at all."""
    return any(
        instance_type in family["except"] or instance_type in family["only"]
        for family in (_family(("rds", "postgres")), _family(("elasticache",)), _family(("mq",)))
    )


def instance_type_of(key: str) -> tuple[str, tuple[str, ...]] | None:
    """(instance type, its family in instance_types.json) of an instance-hour key."""
    for prefix, family in INSTANCE_KEYS.items():
        if key.startswith(prefix):
            return key.removeprefix(prefix), family
    return None


def asks_for(key: str, region: str, instance_types: frozenset[str]) -> bool:
    """Whether the estimator can ask for `key` in `region`: a flat price, an RDS volume, or
    one of `instance_types` where it is sold (nothing else is stored)."""
    if key in FLAT:
        return True
    if key.startswith("rds.storage_gb_month."):
        deployment, _, volume = key.removeprefix("rds.storage_gb_month.").partition(".")
        return deployment in DEPLOYMENTS and volume in RDS_VOLUMES
    found = instance_type_of(key)
    if found is None or found[0] not in instance_types:
        return False
    return sold_in(_family(found[1]), found[0], region) is True
