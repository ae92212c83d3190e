"""Price the resources a preview captured (Pulumi wire names), one line per billed part.

Every captured resource lands in exactly one of three places: free (the type has no charge
of its own), a priced line, or `not_priced` with the reason. A missing figure is never a
zero: the total is the sum of the priced lines and says how many parts it leaves out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .prices import PriceBook

HOURS_PER_MONTH = 730
GIB = 1024

# Types with no charge of their own: wiring, configuration, or billed through another line
# (a task definition through its ECS service, bucket objects through the bucket).
FREE = {
    "pulumi:providers:aws",
    "docker-build:index:Image",  # built on the deploying machine; its storage is ECR's line
    "aws:acm/certificate:Certificate",  # public certificates are free
    "aws:acm/certificateValidation:CertificateValidation",
    "aws:route53/record:Record",  # alias queries to CloudFront and ALBs are free
    "aws:appautoscaling/policy:Policy",
    "aws:appautoscaling/target:Target",
    "aws:cloudfront/cachePolicy:CachePolicy",
    "aws:cloudfront/originAccessControl:OriginAccessControl",
    "aws:cloudfront/originRequestPolicy:OriginRequestPolicy",
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy",
    "aws:cloudfront/vpcOrigin:VpcOrigin",  # VPC origins carry no additional charge
    "aws:wafv2/webAclAssociation:WebAclAssociation",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/route:Route",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/vpc:Vpc",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:ecs/cluster:Cluster",
    "aws:ecs/taskDefinition:TaskDefinition",
    "aws:elasticache/parameterGroup:ParameterGroup",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:lb/listener:Listener",
    "aws:lb/listenerRule:ListenerRule",
    "aws:lb/targetGroup:TargetGroup",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketObjectv2:BucketObjectv2",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketLogging:BucketLogging",
    "aws:secretsmanager/secretVersion:SecretVersion",
    "aws:sns/topicSubscription:TopicSubscription",
    # A topic has no standing charge; the alarm e-mails it sends cost $2 per 100,000.
    "aws:sns/topic:Topic",
    "random:index/randomPassword:RandomPassword",
}


@dataclass(frozen=True)
class Traffic:
    """The stated traffic level behind the data and request charges (not measured)."""

    requests_per_second: float = 50.0
    response_kb: float = 4.0
    # Share of requests that open a new connection at the ALB (the rest reuse keep-alive).
    new_connection_share: float = 0.1
    nat_gb_per_month: float = 50.0  # image pulls that miss ECR's endpoint, outside APIs
    endpoint_gb_per_month: float = 20.0  # logs, secrets, ECR API through interface endpoints
    log_gb_per_month: float = 10.0
    static_gb: float = 1.0
    image_gb: float = 2.0

    @property
    def requests_per_month(self) -> float:
        return self.requests_per_second * 3600 * HOURS_PER_MONTH

    @property
    def gb_out_per_month(self) -> float:
        return self.requests_per_month * self.response_kb / GIB / GIB

    def assumptions(self) -> list[str]:
        return [
            f"{HOURS_PER_MONTH} hours a month, on-demand prices, no free tier or discounts",
            "ECS services run their minimum task count all month (scaling out adds cost)",
            f"traffic {self.requests_per_second:g} req/s average, {self.response_kb:g} KB a "
            f"response: {self.requests_per_month / 1e6:,.0f} M requests, "
            f"{self.gb_out_per_month:,.0f} GB out a month",
            f"ALB: {self.new_connection_share:.0%} of requests open a new connection; CloudFront "
            "viewers are in the stack region's CloudFront pricing geography",
            f"NAT gateways process {self.nat_gb_per_month:g} GB a month in all, interface "
            f"endpoints {self.endpoint_gb_per_month:g} GB",
            f"logs {self.log_gb_per_month:g} GB a month, static assets {self.static_gb:g} GB, "
            f"container images {self.image_gb:g} GB",
            "storage as allocated (a replica's as its primary's); Multi-AZ doubles instance "
            "hours and storage",
        ]


@dataclass(frozen=True)
class Line:
    resource: str
    type: str
    item: str
    monthly_usd: float
    basis: str


@dataclass(frozen=True)
class NotPriced:
    resource: str
    type: str
    item: str
    reason: str


@dataclass
class Estimate:
    region: str
    snapshot_date: str
    traffic: Traffic
    lines: list[Line] = field(default_factory=list)
    not_priced: list[NotPriced] = field(default_factory=list)
    free: list[str] = field(default_factory=list)

    @property
    def total_usd(self) -> float:
        return round(sum(line.monthly_usd for line in self.lines), 2)

    def by_resource(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.resource] = totals.get(line.resource, 0.0) + line.monthly_usd
        return totals

    def summary(self) -> str:
        if self.not_priced and not self.lines:
            return f"unknown: nothing is priced in {self.region}"
        total = f"${self.total_usd:,.2f} a month"
        if not self.not_priced:
            return total
        return f"at least {total} ({len(self.not_priced)} parts not priced)"

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "currency": "USD",
            "price_snapshot_date": self.snapshot_date,
            "total_monthly_usd": self.total_usd,
            "complete": not self.not_priced,
            "lines": [
                {
                    "resource": x.resource,
                    "type": x.type,
                    "item": x.item,
                    "monthly_usd": round(x.monthly_usd, 2),
                    "basis": x.basis,
                }
                for x in self.lines
            ],
            "not_priced": [
                {"resource": x.resource, "type": x.type, "item": x.item, "reason": x.reason}
                for x in self.not_priced
            ],
            "assumptions": self.traffic.assumptions(),
        }

    def render(self) -> list[str]:
        out = [
            f"Cost (estimated, USD a month, {self.region}, prices of {self.snapshot_date})",
        ]
        out += [
            f"  {x.monthly_usd:>10,.2f}  {x.resource}  {x.item}  [{x.basis}]" for x in self.lines
        ]
        out.append(f"  {self.total_usd:>10,.2f}  TOTAL ({self.summary()})")
        if self.not_priced:
            out.append(
                "  Not priced, so not in the total (`python -m tenfold_infra cost-refresh` "
                "rebuilds the snapshot where the AWS Price List is reachable):"
            )
            grouped: dict[str, list[str]] = {}
            for x in self.not_priced:
                grouped.setdefault(x.reason, []).append(f"{x.resource} ({x.item})")
            out += [f"    {reason}: {', '.join(parts)}" for reason, parts in grouped.items()]
        out.append("  Assumptions:")
        out += [f"    {a}" for a in self.traffic.assumptions()]
        return out


Resources = list[tuple[str, str, Mapping[str, Any]]]


class _Pricer:
    def __init__(self, book: PriceBook, traffic: Traffic, result: Estimate) -> None:
        self.book, self.traffic, self.result = book, traffic, result

    def charge(
        self, resource: tuple[str, str], item: str, key: str, quantity: float, unit: str
    ) -> None:
        """quantity x the figure of `key`, or a not-priced entry naming what is missing."""
        type_, name = resource
        price = self.book.get(key)
        if price is None:
            reason = (
                f"no {key} figure for {self.book.region} in the price snapshot"
                if self.book.covers_region
                else f"the price snapshot has no figures for {self.book.region}"
            )
            self.result.not_priced.append(NotPriced(name, type_, item, reason))
            return
        self.result.lines.append(
            Line(
                name,
                type_,
                item,
                quantity * price.usd,
                f"{quantity:,.6g} {unit} x ${price.usd:g} ({price.source})",
            )
        )


def _by_type(resources: Resources, type_: str) -> list[tuple[str, Mapping[str, Any]]]:
    return [(name, inputs) for t, name, inputs in resources if t == type_]


def _ecs_service(p: _Pricer, name: str, inputs: Mapping[str, Any], rs: Resources) -> None:
    task_arn = str(inputs.get("taskDefinition") or "")
    tasks = {n: i for n, i in _by_type(rs, "aws:ecs/taskDefinition:TaskDefinition")}
    task = tasks.get(task_arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]) or {}
    count = int(inputs.get("desiredCount") or 0)
    for _, target in _by_type(rs, "aws:appautoscaling/target:Target"):
        if str(target.get("resourceId", "")).endswith(f"/{name}"):
            count = int(target.get("minCapacity") or count)
    arch = str((task.get("runtimePlatform") or {}).get("cpuArchitecture") or "X86_64")
    vcpu, gb = int(task.get("cpu") or 0) / 1024, int(task.get("memory") or 0) / 1024
    resource = ("aws:ecs/service:Service", name)
    hours = count * HOURS_PER_MONTH
    p.charge(resource, f"Fargate {arch} vCPU", f"fargate.vcpu_hour.{arch}", hours * vcpu, "vCPU-h")
    p.charge(resource, f"Fargate {arch} memory", f"fargate.gb_hour.{arch}", hours * gb, "GB-h")


def _rds_instance(p: _Pricer, name: str, inputs: Mapping[str, Any], rs: Resources) -> None:
    resource = ("aws:rds/instance:Instance", name)
    deployment = "multi_az" if inputs.get("multiAz") else "single_az"
    size = inputs.get("instanceClass")
    p.charge(
        resource,
        f"{size} {deployment.replace('_', '-')} instance",
        f"rds.instance_hour.{deployment}.{size}",
        HOURS_PER_MONTH,
        "h",
    )
    storage = inputs.get("allocatedStorage")
    if storage is None:  # a replica inherits its source's allocation
        primaries = [
            i for _, i in _by_type(rs, "aws:rds/instance:Instance") if i.get("allocatedStorage")
        ]
        storage = primaries[0]["allocatedStorage"] if primaries else 0
    volume = str(inputs.get("storageType") or "gp2")
    copies = 2 if deployment == "multi_az" else 1
    p.charge(
        resource,
        f"{volume} storage",
        f"rds.storage_gb_month.single_az.{volume}",
        float(storage) * copies,
        "GB-month",
    )


def _cache(p: _Pricer, name: str, inputs: Mapping[str, Any], rs: Resources) -> None:
    nodes = int(inputs.get("numCacheClusters") or 1)
    engine, size = str(inputs.get("engine") or "redis"), inputs.get("nodeType")
    p.charge(
        ("aws:elasticache/replicationGroup:ReplicationGroup", name),
        f"{nodes} x {size} {engine} node",
        f"elasticache.node_hour.{engine}.{size}",
        nodes * HOURS_PER_MONTH,
        "node-h",
    )


def _broker(p: _Pricer, name: str, inputs: Mapping[str, Any], rs: Resources) -> None:
    # The offer file prices a Multi-AZ RabbitMQ broker as its whole three-node cluster.
    cluster = inputs.get("deploymentMode") == "CLUSTER_MULTI_AZ"
    deployment, size = ("multi_az" if cluster else "single_az"), inputs.get("hostInstanceType")
    p.charge(
        ("aws:mq/broker:Broker", name),
        f"{size} RabbitMQ {'cluster (3 nodes)' if cluster else 'single instance'}",
        f"mq.broker_hour.{deployment}.{size}",
        HOURS_PER_MONTH,
        "broker-h",
    )


def _nat(p: _Pricer, name: str, inputs: Mapping[str, Any], rs: Resources) -> None:
    share = p.traffic.nat_gb_per_month / max(1, len(_by_type(rs, "aws:ec2/natGateway:NatGateway")))
    resource = ("aws:ec2/natGateway:NatGateway", name)
    p.charge(resource, "NAT gateway hours", "nat.hour", HOURS_PER_MONTH, "h")
    p.charge(resource, "NAT data processed", "nat.gb", share, "GB")


def _eip(p: _Pricer, name: str, inputs: Mapping[str, Any], rs: Resources) -> None:
    p.charge(
        ("aws:ec2/eip:Eip", name), "public IPv4 address", "public_ipv4.hour", HOURS_PER_MONTH, "h"
    )


def _endpoint(p: _Pricer, name: str, inputs: Mapping[str, Any], rs: Resources) -> None:
    if inputs.get("vpcEndpointType") != "Interface":
        p.result.free.append(name)  # gateway endpoints (S3, DynamoDB) carry no charge
        return
    interface = [
        i
        for _, i in _by_type(rs, "aws:ec2/vpcEndpoint:VpcEndpoint")
        if i.get("vpcEndpointType") == "Interface"
    ]
    azs = len(inputs.get("subnetIds") or []) or 1
    resource = ("aws:ec2/vpcEndpoint:VpcEndpoint", name)
    p.charge(
        resource,
        f"interface endpoint in {azs} AZs",
        "vpc_endpoint.az_hour",
        azs * HOURS_PER_MONTH,
        "AZ-h",
    )
    p.charge(
        resource,
        "endpoint data processed",
        "vpc_endpoint.gb",
        p.traffic.endpoint_gb_per_month / len(interface),
        "GB",
    )


def _alb(p: _Pricer, name: str, inputs: Mapping[str, Any], rs: Resources) -> None:
    t = p.traffic
    # An LCU is the largest of its dimensions; new connections (25/s) and processed bytes
    # (1 GB/h) are the two this traffic drives.
    lcus = max(
        t.requests_per_second * t.new_connection_share / 25, t.gb_out_per_month / HOURS_PER_MONTH
    )
    resource = ("aws:lb/loadBalancer:LoadBalancer", name)
    p.charge(resource, "load balancer hours", "alb.hour", HOURS_PER_MONTH, "h")
    p.charge(resource, f"{lcus:.2f} LCU", "alb.lcu_hour", lcus * HOURS_PER_MONTH, "LCU-h")


def _cdn(p: _Pricer, name: str, inputs: Mapping[str, Any], rs: Resources) -> None:
    t, resource = p.traffic, ("aws:cloudfront/distribution:Distribution", name)
    p.charge(resource, "data out to viewers", "cloudfront.gb_out", t.gb_out_per_month, "GB")
    p.charge(
        resource,
        "HTTPS requests",
        "cloudfront.https_10k",
        t.requests_per_month / 1e4,
        "10k requests",
    )


def _waf(p: _Pricer, name: str, inputs: Mapping[str, Any], rs: Resources) -> None:
    resource, rules = ("aws:wafv2/webAcl:WebAcl", name), len(inputs.get("rules") or [])
    p.charge(resource, "web ACL", "waf.web_acl_month", 1, "ACL-month")
    p.charge(resource, f"{rules} rules", "waf.rule_month", rules, "rule-month")
    p.charge(
        resource,
        "requests inspected",
        "waf.million_requests",
        p.traffic.requests_per_month / 1e6,
        "M requests",
    )


Pricer = Callable[[_Pricer, str, Mapping[str, Any], Resources], None]


def _simple(
    type_: str, key: str, item: str, unit: str, quantity: Callable[[Traffic, Resources], float]
) -> tuple[str, Pricer]:
    def price(p: _Pricer, name: str, inputs: Mapping[str, Any], rs: Resources) -> None:
        p.charge((type_, name), item, key, quantity(p.traffic, rs), unit)

    return type_, price


PRICERS: dict[str, Pricer] = {
    "aws:ecs/service:Service": _ecs_service,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:elasticache/replicationGroup:ReplicationGroup": _cache,
    "aws:mq/broker:Broker": _broker,
    "aws:ec2/natGateway:NatGateway": _nat,
    "aws:ec2/eip:Eip": _eip,
    "aws:ec2/vpcEndpoint:VpcEndpoint": _endpoint,
    "aws:lb/loadBalancer:LoadBalancer": _alb,
    "aws:cloudfront/distribution:Distribution": _cdn,
    "aws:wafv2/webAcl:WebAcl": _waf,
}


def _log_share(t: Traffic, rs: Resources) -> float:
    groups = sum(1 for typ, _, _ in rs if typ == "aws:cloudwatch/logGroup:LogGroup")
    return t.log_gb_per_month / max(1, groups)


def _one(t: Traffic, rs: Resources) -> float:
    return 1.0


PRICERS.update(
    _simple(*row)
    for row in (
        (
            "aws:secretsmanager/secret:Secret",
            "secretsmanager.secret_month",
            "secret",
            "secret-month",
            _one,
        ),
        (
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            "cloudwatch.alarm_month",
            "standard alarm",
            "alarm-month",
            _one,
        ),
        (
            "aws:cloudwatch/dashboard:Dashboard",
            "cloudwatch.dashboard_month",
            "dashboard",
            "dashboard-month",
            _one,
        ),
        (
            "aws:cloudwatch/logGroup:LogGroup",
            "cloudwatch.logs_ingest_gb",
            "log ingestion",
            "GB",
            _log_share,
        ),
        (
            "aws:ecr/repository:Repository",
            "ecr.storage_gb_month",
            "image storage",
            "GB-month",
            lambda t, rs: t.image_gb,
        ),
        (
            "aws:s3/bucket:Bucket",
            "s3.storage_gb_month",
            "standard storage",
            "GB-month",
            lambda t, rs: t.static_gb,
        ),
    )
)


def estimate(
    resources: Iterable[tuple[str, str, Mapping[str, Any]]],
    book: PriceBook,
    traffic: Traffic | None = None,
) -> Estimate:
    """Price `resources` (type, name, Pulumi inputs) with `book`'s figures."""
    # Sorted: the program registers resources in an order that varies from run to run.
    rs: Resources = sorted(resources, key=lambda r: (r[0], r[1]))
    result = Estimate(book.region, book.date, traffic or Traffic())
    pricer = _Pricer(book, result.traffic, result)
    for type_, name, inputs in rs:
        if type_.startswith("tenfold:") or type_ in FREE:
            result.free.append(name)
        elif type_ in PRICERS:
            PRICERS[type_](pricer, name, inputs, rs)
        else:
            result.not_priced.append(
                NotPriced(
                    name, type_, "everything", "the estimator does not know this type's charges"
                )
            )
    return result


def region_of(resources: Iterable[tuple[str, str, Mapping[str, Any]]]) -> str | None:
    """The region, from a subnet's zone (eu-west-1a -> eu-west-1): policies see no config."""
    for type_, _, inputs in resources:
        zone = inputs.get("availabilityZone")
        if type_ == "aws:ec2/subnet:Subnet" and isinstance(zone, str) and zone:
            return zone[:-1]
    return None


def dumps(value: Estimate) -> str:
    return json.dumps(value.to_json(), indent=2)
