"""The architecture picture: captured resources in, a PNG (and SVG) with AWS icons out.

`architecture()` reads what the offline preview captured and builds a plain graph (groups,
nodes, edges), so the picture follows the stack: no CDN, the Redis broker, five replicas.
`render()` draws that graph with the `diagrams` package, whose layout is Graphviz's `dot`.
Both are optional at run time: without them the preview still succeeds and says how to get
the picture (`PictureUnavailable`). Nothing here needs a network or JavaScript to view.
"""

from __future__ import annotations

import importlib
import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

INSTALL_HINT = (
    "install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz) "
    "and the Python package `diagrams` (pip install -r requirements.txt), then run the preview again"
)

# Icon name -> (module, class) in the `diagrams` package.
ICONS: dict[str, tuple[str, str]] = {
    "users": ("diagrams.onprem.client", "Users"),
    "dns": ("diagrams.aws.network", "Route53"),
    "cdn": ("diagrams.aws.network", "CloudFront"),
    "waf": ("diagrams.aws.security", "WAF"),
    "alb": ("diagrams.aws.network", "ElbApplicationLoadBalancer"),
    "nat": ("diagrams.aws.network", "NATGateway"),
    "endpoint": ("diagrams.aws.network", "Endpoint"),
    "ecs": ("diagrams.aws.compute", "ElasticContainerServiceService"),
    "container": ("diagrams.aws.compute", "ElasticContainerServiceContainer"),
    "postgres": ("diagrams.aws.database", "RDSPostgresqlInstance"),
    "cache": ("diagrams.aws.database", "ElasticacheForRedis"),
    "mq": ("diagrams.aws.integration", "MQ"),
    "bucket": ("diagrams.aws.storage", "SimpleStorageServiceS3Bucket"),
    "registry": ("diagrams.aws.compute", "EC2ContainerRegistry"),
    "build": ("diagrams.aws.compute", "EC2ContainerRegistryImage"),
    "secrets": ("diagrams.aws.security", "SecretsManager"),
    "monitoring": ("diagrams.aws.management", "Cloudwatch"),
    "topic": ("diagrams.aws.integration", "SimpleNotificationServiceSnsTopic"),
    "email": ("diagrams.aws.integration", "SimpleNotificationServiceSnsEmailNotification"),
}


class CapturedResource(Protocol):
    """What the builder reads of a resource: the preview's `Captured` has these attributes."""

    @property
    def type(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def inputs(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class JsonResource:
    """A resource read back from the preview's JSON (`preview.json` in the output folder)."""

    type: str
    name: str
    inputs: Mapping[str, Any]

    @classmethod
    def all(cls, preview: Mapping[str, Any]) -> list[JsonResource]:
        return [cls(r["type"], r["name"], r["inputs"]) for r in preview["resources"]]


@dataclass(frozen=True)
class Group:
    id: str
    label: str
    parent: str | None = None


@dataclass(frozen=True)
class Node:
    id: str
    icon: str
    label: str
    group: str | None = None


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    dashed: bool = False


@dataclass
class Architecture:
    """The picture's content, before any drawing: what tests and the docs' staleness check read."""

    title: str
    groups: list[Group] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def group(self, id_: str, label: str, parent: str | None = None) -> str:
        self.groups.append(Group(id_, label, parent))
        return id_

    def node(self, id_: str, icon: str, label: str, group: str | None = None) -> str:
        self.nodes.append(Node(id_, icon, label, group))
        return id_

    def edge(self, source: str, target: str, label: str = "", dashed: bool = False) -> None:
        self.edges.append(Edge(source, target, label, dashed))

    def has(self, id_: str) -> bool:
        return any(n.id == id_ for n in self.nodes)

    def label_of(self, id_: str) -> str:
        return next(n.label for n in self.nodes if n.id == id_)

    def summary(self) -> str:
        """A stable, readable text of the picture (the PNG bytes depend on Graphviz's version)."""
        groups = {g.id: g for g in self.groups}

        def where(group: str | None) -> str:
            names = []
            while group:
                names.append(groups[group].label)
                group = groups[group].parent
            return "in " + " / ".join(reversed(names)) if names else "outside AWS"

        def flat(label: str) -> str:
            return label.replace("\n", ", ")

        names = {n.id: flat(n.label).split(",")[0] for n in self.nodes}
        lines = [self.title, "", "Boxes:", ""]
        lines += [f"- {flat(n.label)} ({where(n.group)})" for n in self.nodes]
        lines += ["", "Arrows (⇢ dashed: configuration, telemetry, replication):", ""]
        lines += [
            f"- {names[e.source]} {'⇢' if e.dashed else '→'} {names[e.target]}"
            + (f": {e.label}" if e.label else "")
            for e in self.edges
        ]
        return "\n".join(lines)


def _of(resources: Sequence[CapturedResource], *types: str) -> list[CapturedResource]:
    return [r for r in resources if r.type in types]


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _containers(task: CapturedResource | None) -> list[dict[str, Any]]:
    raw = task.inputs.get("containerDefinitions") if task else None
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return []
        return [c for c in parsed if isinstance(c, dict)] if isinstance(parsed, list) else []
    return [c for c in raw if isinstance(c, dict)] if isinstance(raw, list) else []


def _capacity(resources: Sequence[CapturedResource], service: CapturedResource) -> str:
    service_name = str(service.inputs.get("name") or service.name)
    for target in _of(resources, "aws:appautoscaling/target:Target"):
        if str(target.inputs.get("resourceId", "")).endswith(f"/{service_name}"):
            return f"{target.inputs.get('minCapacity')}-{target.inputs.get('maxCapacity')} tasks"
    return _plural(int(service.inputs.get("desiredCount") or 0), "task")


def _task_of(
    resources: Sequence[CapturedResource], service: CapturedResource
) -> CapturedResource | None:
    reference = str(service.inputs.get("taskDefinition", ""))
    tasks = _of(resources, "aws:ecs/taskDefinition:TaskDefinition")
    for task in tasks:
        family = str(task.inputs.get("family") or task.name)
        if reference.endswith((f":{task.name}", f"/{family}", f":{family}")) or family in reference:
            return task
    return None


def architecture(resources: Sequence[CapturedResource], title: str) -> Architecture:
    """The groups, nodes and edges of the picture, read from what the stack would create."""
    arch = Architecture(title)
    find = _of
    lbs = find(resources, "aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
    distributions = find(resources, "aws:cloudfront/distribution:Distribution")
    acls = find(resources, "aws:wafv2/webAcl:WebAcl")
    subnets = find(resources, "aws:ec2/subnet:Subnet")
    vpcs = find(resources, "aws:ec2/vpc:Vpc")
    zones = sorted({str(s.inputs.get("availabilityZone")) for s in subnets})
    region = next((z.rstrip("abcdefghijklmnopqrstuvwxyz") for z in zones if z and z != "None"), "")

    def tier(s: CapturedResource) -> str:
        name = f"{s.name} {(s.inputs.get('tags') or {}).get('Name', '')}"
        return "public" if "public" in name else "private"

    public_count = len([s for s in subnets if tier(s) == "public"])
    private_count = len(subnets) - public_count

    arch.node("users", "users", "Users")
    edge_group = None
    if distributions or find(resources, "aws:route53/record:Record"):
        edge_group = arch.group("edge", "AWS edge (global)")
    region_group = arch.group("region", f"AWS {region}" if region else "AWS region")
    vpc_group = arch.group(
        "vpc",
        f"VPC {vpcs[0].inputs.get('cidrBlock', '')}".strip() if vpcs else "VPC",
        region_group,
    )
    public = arch.group(
        "public", f"Public subnets x{public_count}, {_plural(len(zones), 'AZ')}", vpc_group
    )
    private = arch.group(
        "private", f"Private subnets x{private_count}, {_plural(len(zones), 'AZ')}", vpc_group
    )

    records = find(resources, "aws:route53/record:Record")
    if records and edge_group:
        names = sorted(
            {
                str(r.inputs.get("name"))
                for r in records
                if r.inputs.get("type") in ("A", "AAAA") and r.inputs.get("name")
            }
        )
        arch.node(
            "dns", "dns", "Route 53\n" + ", ".join(names) if names else "Route 53", edge_group
        )
        arch.edge("users", "dns", "DNS", dashed=True)

    # The way in: CloudFront (with its WAF) in front of the ALB, or the ALB alone.
    cdn_waf = [a for a in acls if str(a.inputs.get("scope", "")).upper() == "CLOUDFRONT"]
    alb_waf = [a for a in acls if a not in cdn_waf]
    if distributions and edge_group:
        dist = distributions[0]
        version = (
            str(dist.inputs.get("httpVersion", "")).replace("http", "HTTP/").replace("and", "+")
        )
        arch.node("cdn", "cdn", f"CloudFront\n{version}".strip(), edge_group)
        arch.edge("users", "cdn", "HTTPS")
        if cdn_waf:
            arch.node("waf", "waf", "WAF web ACL\nmanaged rules + rate limit", edge_group)
            arch.edge("waf", "cdn", "filters", dashed=True)
    if lbs:
        lb = lbs[0]
        internal = lb.inputs.get("internal") is True
        listeners = find(resources, "aws:lb/listener:Listener", "aws:alb/listener:Listener")
        https = any(str(listener.inputs.get("protocol")) == "HTTPS" for listener in listeners)
        label = "ALB " + ("HTTPS" if https else "HTTP") + (" (internal)" if internal else "")
        arch.node("alb", "alb", f"{label}\nhealth /readyz", private if internal else public)
        if arch.has("cdn"):
            arch.edge("cdn", "alb", _origin_label(resources, distributions[0]))
        else:
            arch.edge("users", "alb", "HTTPS" if https else "HTTP")
        if alb_waf:
            arch.node("alb-waf", "waf", "WAF web ACL\nmanaged rules + rate limit", region_group)
            arch.edge("alb-waf", "alb", "filters", dashed=True)

    nats = find(resources, "aws:ec2/natGateway:NatGateway")
    if nats:
        arch.node("nat", "nat", f"NAT gateway x{len(nats)}", public)
    endpoints = find(resources, "aws:ec2/vpcEndpoint:VpcEndpoint")
    if endpoints:
        endpoint_services = sorted(
            str(e.inputs.get("serviceName", "")).split(f"{region}.", 1)[-1] for e in endpoints
        )
        arch.node(
            "endpoints", "endpoint", "VPC endpoints\n" + ", ".join(endpoint_services), private
        )

    # Compute: the app behind the load balancer, the worker beside it.
    services = find(resources, "aws:ecs/service:Service")
    ecs = arch.group("ecs", "ECS on Fargate", private) if services else None
    app = next((s for s in services if s.inputs.get("loadBalancers")), None)
    workers = [s for s in services if s is not app]
    if app and ecs:
        containers = [str(c.get("name")) for c in _containers(_task_of(resources, app))]
        arch.node("app", "ecs", f"app service\n{_capacity(resources, app)}", ecs)
        if "migrate" in containers:
            arch.node("migrate", "container", "migrate container\npython -m app.db.migrate", ecs)
            arch.edge("migrate", "app", "SUCCESS, then app starts", dashed=True)
        if arch.has("alb"):
            arch.edge("alb", "app", "HTTP :8000")
    for index, worker in enumerate(workers):
        worker_id = "worker" if index == 0 else f"worker-{index + 1}"
        if ecs:
            arch.node(worker_id, "ecs", f"worker service\n{_capacity(resources, worker)}", ecs)

    # Data: the primary, one node per replica, the cache, the broker.
    instances = find(resources, "aws:rds/instance:Instance")
    primaries = [i for i in instances if not i.inputs.get("replicateSourceDb")]
    replicas = [i for i in instances if i.inputs.get("replicateSourceDb")]
    writers = [n for n in ("app", "worker", "migrate") if arch.has(n)]
    if primaries:
        db = primaries[0].inputs
        version = str(db.get("engineVersion", "")).split(".")[0]
        arch.node(
            "db",
            "postgres",
            f"RDS PostgreSQL {version}".strip()
            + f"\nprimary, {'Multi-AZ' if db.get('multiAz') else 'single-AZ'}",
            private,
        )
        for writer in writers:
            arch.edge(writer, "db", "schema" if writer == "migrate" else "writes")
    # Every replica gets its arrows; only the first carries the labels, so five stay legible.
    for number, _replica in enumerate(replicas, 1):
        first = number == 1
        arch.node(f"replica-{number}", "postgres", f"Read replica {number}", private)
        arch.edge("db", f"replica-{number}", "replication" if first else "", dashed=True)
        if arch.has("app"):
            arch.edge("app", f"replica-{number}", "reads" if first else "")
    groups = find(resources, "aws:elasticache/replicationGroup:ReplicationGroup")
    if groups:
        cache = groups[0].inputs
        tls = ", TLS" if cache.get("transitEncryptionEnabled") else ""
        arch.node(
            "cache",
            "cache",
            f"ElastiCache {cache.get('engine', 'redis')}\n"
            + _plural(int(cache.get("numCacheClusters") or 1), "node")
            + tls,
            private,
        )
        if arch.has("app"):
            arch.edge("app", "cache", "cache, sessions")
    brokers = find(resources, "aws:mq/broker:Broker")
    if brokers:
        mq = brokers[0].inputs
        arch.node(
            "mq",
            "mq",
            f"Amazon MQ {mq.get('engineType', '')} {mq.get('engineVersion', '')}".rstrip()
            + f"\n{mq.get('deploymentMode', '')}",
            private,
        )
    queue = "mq" if brokers else ("cache" if groups else None)
    if queue and arch.has("app"):
        arch.edge("app", queue, "jobs")
    if queue and arch.has("worker"):
        arch.edge(queue, "worker", "jobs")

    # Regional services outside the VPC.
    static = [
        b
        for b in find(resources, "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
        if "static" in b.name
    ]
    if static:
        objects = find(
            resources,
            "aws:s3/bucketObjectv2:BucketObjectv2",
            "aws:s3/bucketObject:BucketObject",
        )
        # Uploaded file by file, or synced by a command on each deploy.
        synced = [r for r in resources if r.type.startswith("command:") and "static" in r.name]
        detail = (
            f"\n{_plural(len(objects), 'file')} uploaded"
            if objects
            else ("\nsynced on deploy" if synced else "")
        )
        arch.node("static", "bucket", f"S3 static assets{detail}", region_group)
        if arch.has("cdn"):
            arch.edge("cdn", "static", "/static/* (OAC)")
    repositories = find(resources, "aws:ecr/repository:Repository")
    if repositories:
        repo = repositories[0].inputs
        notes = [
            "immutable tags" if repo.get("imageTagMutability") == "IMMUTABLE" else "",
            "scan on push"
            if (repo.get("imageScanningConfiguration") or {}).get("scanOnPush")
            else "",
        ]
        arch.node(
            "ecr",
            "registry",
            "ECR repository" + ("\n" + ", ".join(n for n in notes if n) if any(notes) else ""),
            region_group,
        )
        for runner in ("app", "worker", "migrate"):
            if arch.has(runner):
                arch.edge("ecr", runner, "image", dashed=True)
    builds = [r for r in resources if r.type.startswith("docker-build:")]
    if builds:
        arch.node("build", "build", "docker build\n(pulumi-docker-build)")
        if arch.has("ecr"):
            arch.edge("build", "ecr", "push")
    secrets = find(resources, "aws:secretsmanager/secret:Secret")
    if secrets:
        arch.node(
            "secrets",
            "secrets",
            f"Secrets Manager\n{_plural(len(secrets), 'secret')}",
            region_group,
        )
        for reader in ("app", "worker", "migrate"):
            if arch.has(reader):
                arch.edge("secrets", reader, "env at start", dashed=True)
    alarms = find(resources, "aws:cloudwatch/metricAlarm:MetricAlarm")
    dashboards = find(resources, "aws:cloudwatch/dashboard:Dashboard")
    logs = find(resources, "aws:cloudwatch/logGroup:LogGroup")
    if alarms or dashboards or logs:
        parts = [_plural(len(alarms), "alarm")] if alarms else []
        parts += ["dashboard"] if dashboards else []
        parts += ["logs"] if logs else []
        arch.node("cloudwatch", "monitoring", "CloudWatch\n" + ", ".join(parts), region_group)
        for emitter in ("app", "worker"):
            if arch.has(emitter):
                arch.edge(emitter, "cloudwatch", "logs, metrics", dashed=True)
    topics = find(resources, "aws:sns/topic:Topic")
    if topics:
        arch.node("alarms", "topic", "SNS alarm topic", region_group)
        if arch.has("cloudwatch"):
            arch.edge("cloudwatch", "alarms", "alarm")
        emails = [
            s
            for s in find(resources, "aws:sns/topicSubscription:TopicSubscription")
            if s.inputs.get("protocol") == "email"
        ]
        if emails:
            arch.node("on-call", "email", f"On-call\n{_plural(len(emails), 'email')}")
            arch.edge("alarms", "on-call", "email")
    return arch


def _origin_label(resources: Sequence[CapturedResource], distribution: CapturedResource) -> str:
    """How CloudFront reaches the ALB: a VPC origin, HTTPS, or plain HTTP (which a policy refuses)."""
    if _of(resources, "aws:cloudfront/vpcOrigin:VpcOrigin"):
        return "API via VPC origin (private)"
    for origin in distribution.inputs.get("origins") or []:
        if not isinstance(origin, Mapping) or origin.get("s3OriginConfig"):
            continue
        if origin.get("vpcOriginConfig"):
            return "API via VPC origin (private)"
        custom = origin.get("customOriginConfig") or {}
        if custom.get("originProtocolPolicy") == "https-only":
            return "API over HTTPS + origin-verify"
        if custom:
            return "API over HTTP + origin-verify"
    return "API"


class PictureUnavailable(RuntimeError):
    """The picture cannot be drawn here; the message says what is missing and how to get it."""


def _diagrams() -> Any:
    if shutil.which("dot") is None:
        raise PictureUnavailable(f"Graphviz's `dot` is not on PATH: {INSTALL_HINT}")
    try:
        return importlib.import_module("diagrams")
    except ImportError as error:
        raise PictureUnavailable(
            f"the Python package `diagrams` is missing: {INSTALL_HINT}"
        ) from error


def render(
    arch: Architecture,
    directory: Path,
    stem: str = "architecture",
    formats: Iterable[str] = ("png", "svg"),
) -> list[Path]:
    """Draw the picture into `directory` as `<stem>.<format>`; PictureUnavailable without Graphviz."""
    lib = _diagrams()
    directory.mkdir(parents=True, exist_ok=True)
    formats = list(formats)
    base = directory / stem
    picture = lib.Diagram(
        arch.title,
        filename=str(base),
        outformat=formats,
        show=False,
        direction="LR",
        # Straight-ish curves keep each edge's label beside its edge (ortho lines do not).
        curvestyle="curved",
        graph_attr={"pad": "0.4", "nodesep": "0.5", "ranksep": "1.0", "fontsize": "20"},
    )
    drawn: dict[str, Any] = {}
    children: dict[str | None, list[Group]] = {}
    for group in arch.groups:
        children.setdefault(group.parent, []).append(group)

    def place(group: str | None) -> None:
        for node in arch.nodes:
            if node.group == group:
                module, name = ICONS[node.icon]
                icon = getattr(importlib.import_module(module), name)
                drawn[node.id] = icon(node.label, nodeid=node.id)
        for child in children.get(group, []):
            if any(_inside(arch, n.group, child.id) for n in arch.nodes):
                with lib.Cluster(child.label):
                    place(child.id)

    lib.setdiagram(picture)
    try:
        place(None)
        for edge in arch.edges:
            drawn[edge.source].connect(
                drawn[edge.target],
                lib.Edge(
                    forward=True,
                    label=edge.label,
                    style="dashed" if edge.dashed else "",
                    color="#7B8894" if edge.dashed else "#2D3436",
                ),
            )
        picture.render()
    finally:
        lib.setdiagram(None)
    base.unlink(missing_ok=True)  # the DOT source graphviz leaves next to the pictures
    return [base.with_suffix(f".{f}") for f in formats]


def _inside(arch: Architecture, group: str | None, ancestor: str) -> bool:
    parents = {g.id: g.parent for g in arch.groups}
    while group:
        if group == ancestor:
            return True
        group = parents.get(group)
    return False
