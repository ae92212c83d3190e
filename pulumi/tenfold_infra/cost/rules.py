"""Which offer-file product fills which snapshot key: one rule per AWS Price List offer.

A rule gets a product's productFamily, attributes and the region asked for, and returns the
snapshot key it prices or None. Usage types carry a region prefix ("EUW1-NatGateway-Hours";
us-east-1's often have none), so `_usage` matches the name after an optional prefix and
nothing else: "USE1-SpotUsage-Fargate-vCPU-Hours:perCPU" is not "Fargate-vCPU-Hours:perCPU".

Where the attribute names and values come from: infracost's product filters, which query the
same offer files (github.com/infracost/infracost, internal/resources/aws/<file>.go, named on
each rule), checked against offer-file excerpts published in other repositories.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Attributes = Mapping[str, str]
Rule = Callable[[str, Attributes, str], str | None]  # (productFamily, attributes, region)


def _usage(a: Attributes, name: str) -> bool:
    return re.fullmatch(rf"([A-Z0-9]+-)?{re.escape(name)}", a.get("usagetype", "")) is not None


def _first(a: Attributes, names: Mapping[str, str]) -> str | None:
    return next((key for name, key in names.items() if _usage(a, name)), None)


DEPLOYMENT = {"Single-AZ": "single_az", "Multi-AZ": "multi_az"}
# RDS volumeType -> storageType (db_instance.go: gp2 "General Purpose", gp3
# "General Purpose-GP3", io1 "Provisioned IOPS", standard "Magnetic").
RDS_VOLUMES = {
    "General Purpose": "gp2",
    "General Purpose-GP3": "gp3",
    "Provisioned IOPS": "io1",
    "Provisioned IOPS-IO2": "io2",
    "Magnetic": "standard",
}


def _rds(family: str, a: Attributes, region: str) -> str | None:
    """db_instance.go: productFamily "Database Instance", instanceType, deploymentOption
    "Single-AZ"/"Multi-AZ", databaseEngine "PostgreSQL"; usagetype "InstanceUsage:<class>"
    or "Multi-AZUsage:<class>". Storage: "Database Storage", databaseEngine "Any",
    volumeType, deploymentOption Single-AZ or Multi-AZ (two copies' price)."""
    deployment = DEPLOYMENT.get(a.get("deploymentOption", ""))
    if family == "Database Instance" and deployment and a.get("databaseEngine") == "PostgreSQL":
        size = a.get("instanceType", "")
        if a.get("usagetype", "").endswith(f"Usage:{size}"):
            return f"rds.instance_hour.{deployment}.{size}"
    volume = RDS_VOLUMES.get(a.get("volumeType", ""))
    any_engine = a.get("databaseEngine", "Any") == "Any"
    if family == "Database Storage" and deployment and volume and any_engine:
        return f"rds.storage_gb_month.{deployment}.{volume}"
    return None


def _elasticache(family: str, a: Attributes, region: str) -> str | None:
    """elasticache_cluster.go: "Cache Instance", instanceType, cacheEngine "Valkey"/"Redis"
    (title case), usagetype "NodeUsage:<type>"."""
    engine, size = a.get("cacheEngine", ""), a.get("instanceType", "")
    node = a.get("usagetype", "").endswith(f"NodeUsage:{size}")
    if family == "Cache Instance" and engine in ("Valkey", "Redis") and node:
        return f"elasticache.node_hour.{engine.lower()}.{size}"
    return None


def _mq(family: str, a: Attributes, region: str) -> str | None:
    """mq_broker.go: "Broker Instances", brokerEngine "RabbitMQ", deploymentOption
    "Single-AZ"/"Multi-AZ", operation "CreateBroker..", usagetype naming the instance type.
    A Multi-AZ RabbitMQ price is the whole three-node cluster's: infracost's golden file
    prices mq.m5.xlarge at $420.48 single and $1,261.44 (3x) for cluster_multi_az."""
    deployment = DEPLOYMENT.get(a.get("deploymentOption", ""))
    size = a.get("instanceType", "")
    broker = size and a.get("operation", "").startswith("CreateBroker")
    if family == "Broker Instances" and a.get("brokerEngine") == "RabbitMQ" and broker:
        return f"mq.broker_hour.{deployment}.{size}" if deployment else None
    return None


FARGATE = {  # ecs_service.go; ARM names as in AWS's own usage reports
    "Fargate-vCPU-Hours:perCPU": "fargate.vcpu_hour.X86_64",
    "Fargate-GB-Hours": "fargate.gb_hour.X86_64",
    "Fargate-ARM-vCPU-Hours:perCPU": "fargate.vcpu_hour.ARM64",
    "Fargate-ARM-GB-Hours": "fargate.gb_hour.ARM64",
}


def _fargate(family: str, a: Attributes, region: str) -> str | None:
    """ecs_service.go: AmazonECS, productFamily "Compute", usagetype as in FARGATE (Windows,
    Spot and ephemeral storage have names of their own and are not matched)."""
    return _first(a, FARGATE) if family == "Compute" else None


def _ec2(family: str, a: Attributes, region: str) -> str | None:
    """nat_gateway.go: AmazonEC2, "NAT Gateway", usagetype NatGateway-Hours / -Bytes."""
    if family == "NAT Gateway":
        return _first(a, {"NatGateway-Hours": "nat.hour", "NatGateway-Bytes": "nat.gb"})
    return None


def _vpc(family: str, a: Attributes, region: str) -> str | None:
    """vpc_endpoint.go: AmazonVPC, "VpcEndpoint", VpcEndpoint-Hours / -Bytes (GWLB endpoints
    have -GWLBE- names). Public IPv4: AmazonVPC usagetype "PublicIPv4:InUseAddress"."""
    if family == "VpcEndpoint":
        return _first(
            a, {"VpcEndpoint-Hours": "vpc_endpoint.az_hour", "VpcEndpoint-Bytes": "vpc_endpoint.gb"}
        )
    return _first(a, {"PublicIPv4:InUseAddress": "public_ipv4.hour"})


def _elb(family: str, a: Attributes, region: str) -> str | None:
    """lb.go: AWSELB, "Load Balancer-Application", LoadBalancerUsage and LCUUsage (the
    trust-store "TS-LoadBalancerUsage" is not matched)."""
    if family == "Load Balancer-Application":
        return _first(a, {"LoadBalancerUsage": "alb.hour", "LCUUsage": "alb.lcu_hour"})
    return None


# CloudFront prices by where viewers are. The estimate assumes they are near the stack's
# region: its pricing geography (cloudfront_distribution.go's priceRegion values).
def cloudfront_geography(region: str) -> str:
    if region in ("ap-northeast-1", "ap-northeast-3"):
        return "Japan"
    if region in ("ap-southeast-2", "ap-southeast-4", "ap-southeast-6"):
        return "Australia"
    if region in ("ap-south-1", "ap-south-2"):
        return "India"
    prefixes = {"us": "United States", "ca": "United States", "mx": "United States",
                "eu": "Europe", "il": "Europe", "af": "South Africa", "me": "South Africa",
                "sa": "South America", "ap": "Asia Pacific"}  # fmt: skip
    return prefixes.get(region.split("-", 1)[0], "United States")


def _cloudfront(family: str, a: Attributes, region: str) -> str | None:
    """cloudfront_distribution.go: data out has transferType "CloudFront Outbound" and
    fromLocation; HTTPS requests requestType "CloudFront-Request-HTTPS-Proxy" and location.
    An empty region (reading the file) accepts every geography."""
    if a.get("transferType") == "CloudFront Outbound":
        where, key = a.get("fromLocation"), "cloudfront.gb_out"
    elif a.get("requestType") == "CloudFront-Request-HTTPS-Proxy":
        where, key = a.get("location"), "cloudfront.https_10k"
    else:
        return None
    return key if not region or where == cloudfront_geography(region) else None


def _waf(family: str, a: Attributes, region: str) -> str | None:
    """wafv2_web_acl.go: awswaf, "Web Application Firewall", <prefix>-WebACLV2, -RuleV2,
    -RequestV2-Tier1 (the Shield-protected variants are not matched)."""
    if family != "Web Application Firewall":
        return None
    names = {"WebACLV2": "waf.web_acl_month", "RuleV2": "waf.rule_month",
             "RequestV2-Tier1": "waf.million_requests"}  # fmt: skip
    return _first(a, names)


def _secrets(family: str, a: Attributes, region: str) -> str | None:
    """secretsmanager_secret.go: AWSSecretsManager, "Secret", AWSSecretsManager-Secrets."""
    return _first(a, {"AWSSecretsManager-Secrets": "secretsmanager.secret_month"})


def _cloudwatch(family: str, a: Attributes, region: str) -> str | None:
    """cloudwatch_metric_alarm.go: "Alarm", alarmType "Standard", CW:AlarmMonitorUsage;
    cloudwatch_dashboard.go: "Dashboard", DashboardsUsageHour (priced a month);
    cloudwatch_log_group.go: "Data Payload", DataProcessing-Bytes (ingestion)."""
    if family == "Alarm" and a.get("alarmType", "Standard") == "Standard":
        return _first(a, {"CW:AlarmMonitorUsage": "cloudwatch.alarm_month"})
    if family == "Dashboard":
        return _first(a, {"DashboardsUsageHour": "cloudwatch.dashboard_month"})
    if family == "Data Payload":
        return _first(a, {"DataProcessing-Bytes": "cloudwatch.logs_ingest_gb"})
    return None


def _ecr(family: str, a: Attributes, region: str) -> str | None:
    """ecr_repository.go: AmazonECR, "EC2 Container Registry", TimedStorage-ByteHrs."""
    if family == "EC2 Container Registry":
        return _first(a, {"TimedStorage-ByteHrs": "ecr.storage_gb_month"})
    return None


def _s3(family: str, a: Attributes, region: str) -> str | None:
    """s3_standard_storage_class.go: AmazonS3, TimedStorage-ByteHrs, volumeType "Standard"."""
    if a.get("volumeType") == "Standard":
        return _first(a, {"TimedStorage-ByteHrs": "s3.storage_gb_month"})
    return None


RULES: dict[str, Rule] = {
    "AmazonECS": _fargate,
    "AmazonRDS": _rds,
    "AmazonElastiCache": _elasticache,
    "AmazonMQ": _mq,
    "AmazonEC2": _ec2,
    "AmazonVPC": _vpc,
    "AWSELB": _elb,
    "AmazonCloudFront": _cloudfront,
    "awswaf": _waf,
    "AWSSecretsManager": _secrets,
    "AmazonCloudWatch": _cloudwatch,
    "AmazonECR": _ecr,
    "AmazonS3": _s3,
}
GLOBAL_OFFERS = frozenset({"AmazonCloudFront"})
# Offer files quote these per request: scale to the snapshot key's unit.
SCALE = {"cloudfront.https_10k": 10_000.0, "waf.million_requests": 1_000_000.0}
