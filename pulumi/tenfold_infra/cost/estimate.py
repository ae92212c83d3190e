"""Price the resources a preview captured (Pulumi wire names), one line per billed part.

Every captured resource lands in exactly one of three places: a $0 line for a type AWS
makes no charge for (free.py names the page that says so), a priced line, or `not_priced`
with the reason. A missing figure is never a zero: the total is the sum of the priced lines
and says how many parts it leaves out. report.py renders an estimate as text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .free import GATEWAY_ENDPOINT, NO_CHARGE, NoCharge
from .prices import Price, PriceBook, Source

HOURS_PER_MONTH = 730
GIB = 1024


@dataclass(frozen=True)
class Traffic:
    """The stated traffic level behind the data and request charges (not measured)."""

    requests_per_second: float = 50.0
    response_kb: float = 4.0
    # Share of requests that open a new connection at the ALB (the rest reuse keep-alive).
    new_connection_share: float = 0.1
    nat_gb_per_month: float = 50.0  # image pulls that miss ECR's endpoint, outside APIs
    endpoint_gb_per_month: float = 20.0  # logs, secrets, ECR API through interface endpoints
    service_log_gb_per_month: float = 10.0  # the ECS services' log group(s), in all
    other_log_gb_per_group: float = 0.5  # each other log group (RDS exports, ...)
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
            "viewers are in the stack region's CloudFront pricing geography; origin fetches "
            "from the ALB and S3 to CloudFront are free",
            f"NAT gateways process {self.nat_gb_per_month:g} GB a month in all, interface "
            f"endpoints {self.endpoint_gb_per_month:g} GB",
            f"logs: the services' log group {self.service_log_gb_per_month:g} GB a month, "
            f"each other group {self.other_log_gb_per_group:g} GB; static assets "
            f"{self.static_gb:g} GB, container images {self.image_gb:g} GB",
            "storage as allocated (a replica's as its primary's; Multi-AZ at the Multi-AZ "
            "rate); backups within the free allowance of one copy of the storage; cross-AZ "
            "transfer, Performance Insights' 7 free days and Enhanced Monitoring left out",
        ]


@dataclass(frozen=True)
class Line:
    resource: str
    type: str
    item: str
    key: str  # the snapshot key the unit price is read from
    quantity: float
    unit: str
    price: Price

    @property
    def monthly_usd(self) -> float:
        return self.quantity * self.price.usd

    @property
    def basis(self) -> str:
        marker = ", SECONDARY" if self.price.source.secondary else ""
        return f"{self.quantity:,.6g} {self.unit} x ${self.price.usd:g}{marker}"


@dataclass(frozen=True)
class NotPriced:
    resource: str
    type: str
    item: str
    reason: str


@dataclass(frozen=True)
class Free:
    resource: str
    type: str
    charge: NoCharge


@dataclass
class Estimate:
    region: str
    snapshot_date: str
    traffic: Traffic
    lines: list[Line] = field(default_factory=list)
    not_priced: list[NotPriced] = field(default_factory=list)
    free: list[Free] = field(default_factory=list)

    @property
    def total_usd(self) -> float:
        return round(sum(line.monthly_usd for line in self.lines), 2)

    @property
    def sources(self) -> list[Source]:
        """The sources of the priced lines, each once, oldest data first."""
        found = {line.price.source.name: line.price.source for line in self.lines}
        return sorted(found.values(), key=lambda s: (s.dated, s.name))

    @property
    def secondary_lines(self) -> list[Line]:
        return [line for line in self.lines if line.price.source.secondary]

    def by_resource(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.resource] = totals.get(line.resource, 0.0) + line.monthly_usd
        return totals

    def summary(self) -> str:
        if self.not_priced and not self.lines:
            return f"unknown: nothing is priced in {self.region}"
        total = f"${self.total_usd:,.2f} a month"
        if self.secondary_lines:
            total += f", {len(self.secondary_lines)} figures from a secondary source"
        if not self.not_priced:
            return total
        parts = len(self.not_priced)
        return f"at least {total} ({parts} {'part' if parts == 1 else 'parts'} not priced)"

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
                    "key": x.key,
                    "quantity": round(x.quantity, 6),
                    "unit": x.unit,
                    "unit_usd": x.price.usd,
                    "monthly_usd": round(x.monthly_usd, 2),
                    "basis": x.basis,
                    "source": x.price.source.name,
                    "reference": x.price.reference,
                    "secondary": x.price.source.secondary,
                }
                for x in self.lines
            ],
            "not_priced": [
                {"resource": x.resource, "type": x.type, "item": x.item, "reason": x.reason}
                for x in self.not_priced
            ],
            "no_charge": [
                {
                    "resource": x.resource,
                    "type": x.type,
                    "monthly_usd": 0.0,
                    "reason": x.charge.reason,
                    "page": x.charge.page,
                }
                for x in self.free
            ],
            "price_sources": [
                {
                    "name": s.name,
                    "kind": s.kind,
                    "page": s.page,
                    "dated": s.dated,
                    "states": s.states,
                }
                for s in self.sources
            ],
            "assumptions": self.traffic.assumptions(),
        }

    def render(self) -> list[str]:
        from .report import render

        return render(self)


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
            self.result.not_priced.append(NotPriced(name, type_, item, self.book.missing(key)))
            return
        self.result.lines.append(Line(name, type_, item, key, quantity, unit, price))

    def free(self, resource: tuple[str, str], charge: NoCharge) -> None:
        self.result.free.append(Free(resource[1], resource[0], charge))


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
    # A Multi-AZ instance keeps a standby copy: AWS prices its storage per GB at the
    # Multi-AZ rate (twice the Single-AZ one).
    p.charge(
        resource,
        f"{volume} storage ({deployment.replace('_', '-')})",
        f"rds.storage_gb_month.{deployment}.{volume}",
        float(storage),
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
    # AWS prices a Multi-AZ RabbitMQ broker as its whole three-node cluster.
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
    resource = ("aws:ec2/vpcEndpoint:VpcEndpoint", name)
    if inputs.get("vpcEndpointType") != "Interface":
        p.free(resource, GATEWAY_ENDPOINT)
        return
    interface = [
        i
        for _, i in _by_type(rs, "aws:ec2/vpcEndpoint:VpcEndpoint")
        if i.get("vpcEndpointType") == "Interface"
    ]
    azs = len(inputs.get("subnetIds") or []) or 1
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


def _log_group(p: _Pricer, name: str, inputs: Mapping[str, Any], rs: Resources) -> None:
    t = p.traffic
    services = [
        n
        for n, i in _by_type(rs, "aws:cloudwatch/logGroup:LogGroup")
        if str(i.get("name", "")).startswith("/ecs/")
    ]
    gb = (
        t.service_log_gb_per_month / len(services) if name in services else t.other_log_gb_per_group
    )
    p.charge(
        ("aws:cloudwatch/logGroup:LogGroup", name),
        "log ingestion",
        "cloudwatch.logs_ingest_gb",
        gb,
        "GB",
    )


Pricer = Callable[[_Pricer, str, Mapping[str, Any], Resources], None]


def _simple(
    type_: str, key: str, item: str, unit: str, quantity: Callable[[Traffic], float]
) -> tuple[str, Pricer]:
    def price(p: _Pricer, name: str, inputs: Mapping[str, Any], rs: Resources) -> None:
        p.charge((type_, name), item, key, quantity(p.traffic), unit)

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
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
}
PRICERS.update(
    _simple(*row)
    for row in (
        (
            "aws:secretsmanager/secret:Secret",
            "secretsmanager.secret_month",
            "secret",
            "secret-month",
            lambda t: 1.0,
        ),
        (
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            "cloudwatch.alarm_month",
            "standard alarm",
            "alarm-month",
            lambda t: 1.0,
        ),
        (
            "aws:cloudwatch/dashboard:Dashboard",
            "cloudwatch.dashboard_month",
            "dashboard",
            "dashboard-month",
            lambda t: 1.0,
        ),
        (
            "aws:ecr/repository:Repository",
            "ecr.storage_gb_month",
            "image storage",
            "GB-month",
            lambda t: t.image_gb,
        ),
        (
            "aws:s3/bucket:Bucket",
            "s3.storage_gb_month",
            "standard storage",
            "GB-month",
            lambda t: t.static_gb,
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
        if type_.startswith("tenfold:"):
            continue  # a component: its children are priced one by one
        if type_ in NO_CHARGE:
            pricer.free((type_, name), NO_CHARGE[type_])
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
