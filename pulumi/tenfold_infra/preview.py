"""Offline preview: run the stack's program in-process under the Pulumi SDK's mocks.

No Pulumi CLI, no AWS credentials. Every resource the program registers is captured with
its inputs (Pulumi wire names, camelCase), the policies run over them, and the result is
printed as a tree with key settings, the findings, the outputs and a Mermaid diagram.
Mocked provider outputs (endpoints, ARNs) are plausible placeholders, never real values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .config import ConfigError, StackConfig
from .cost import Estimate, Traffic
from .policies import Finding, Resource, evaluate

ACCOUNT = "123456789012"
SECRET_MARK = "mock-secret-"
REDACTED = "[secret]"
# How the SDK serializes an Output.secret value on the wire.
SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")


@dataclass
class Captured:
    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]
    # Names repeat across types (a component and its first child often share one): the tree
    # needs the parent's type too. Kept out of the JSON, whose `parent` is the parent's name.
    parent_type: str | None = None


@dataclass
class PreviewResult:
    config: StackConfig
    resources: list[Captured]
    findings: list[Finding]
    outputs: dict[str, Any]
    diagram: str = field(default="")
    cost: Estimate | None = None
    # Keys the tier requires but the stack leaves unset (config.missing_required): the plan
    # is built without them, shown, and then the preview fails with these messages.
    missing_config: list[str] = field(default_factory=list)
    # The provider functions (data sources) the program read, by invoke token.
    invokes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(f.passed for f in self.findings)

    def of_type(self, type_: str) -> list[Captured]:
        return [r for r in self.resources if r.type == type_]

    def to_json(self) -> dict[str, Any]:
        plan = plan_json(self.resources, self.findings, self.outputs)
        plan["missing_config"] = self.missing_config
        cost = self.cost.to_json() if self.cost else None
        return plan | {"invokes": self.invokes, "cost": cost, "diagram": self.diagram}


def plan_json(
    resources: list[Captured], findings: list[Finding], outputs: dict[str, Any]
) -> dict[str, Any]:
    """The preview's JSON: every captured resource, the policy findings and the outputs."""
    return {
        "resources": [
            {"type": r.type, "name": r.name, "parent": r.parent, "inputs": r.inputs}
            for r in resources
        ],
        "policies": [
            {"name": f.name, "passed": f.passed, "message": f.message, "warnings": list(f.warnings)}
            for f in findings
        ],
        "outputs": outputs,
    }


def read_stack_config(directory: Path, stack: str) -> tuple[str, dict[str, str]]:
    """Project name from Pulumi.yaml and the stack's config as Pulumi stores it ("ns:key" -> string)."""
    project_file = directory / "Pulumi.yaml"
    stack_file = directory / f"Pulumi.{stack}.yaml"
    if not project_file.is_file():
        raise ConfigError(
            f"no Pulumi.yaml in {directory.resolve()}: run the preview from the service's infra/ directory"
        )
    if not stack_file.is_file():
        stacks = sorted(
            p.name[len("Pulumi.") : -len(".yaml")] for p in directory.glob("Pulumi.*.yaml")
        )
        raise ConfigError(
            f"stack {stack!r} has no Pulumi.{stack}.yaml in {directory.resolve()}: "
            f"choose one of {', '.join(stacks) or '(none)'}"
        )
    project = str((yaml.safe_load(project_file.read_text()) or {}).get("name", ""))
    values = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
    if not isinstance(values, dict):
        raise ConfigError(
            f"Pulumi.{stack}.yaml: 'config' must be a mapping of <namespace>:<key> to values"
        )
    flat = {}
    for key, value in values.items():
        full = key if ":" in key else f"{project}:{key}"
        flat[full] = value if isinstance(value, str) else json.dumps(value)
    return project, flat


class _Mocks:
    """Plausible provider outputs so wiring (endpoints, ARNs, names) resolves and can be asserted."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.secret_values: set[str] = set()
        self.invokes: list[str] = []

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", {**args.inputs, **self._outputs(args.typ, args.name, args.inputs)}

    def call(self, args: Any) -> dict[str, Any]:
        region = self.region
        if args.token not in self.invokes:
            self.invokes.append(args.token)
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return availability_zones(region, args.args.get("filters") or [])
        if args.token == "aws:ec2/getManagedPrefixList:getManagedPrefixList":
            return {"id": "pl-3b927c52", "name": args.args.get("name")}
        if args.token == "aws:elb/getServiceAccount:getServiceAccount":
            return {"id": "156460612806", "arn": "arn:aws:iam::156460612806:root"}
        if args.token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {"userName": "AWS", "password": f"{SECRET_MARK}ecr-token"}
        return {}

    def _outputs(self, typ: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        region, service = self.region, typ.split(":")[1].split("/")[0]
        out: dict[str, Any] = {
            "arn": f"arn:aws:{service}:{region}:{ACCOUNT}:{name}",
            "name": inputs.get("name", name),
        }
        if typ == "aws:rds/instance:Instance":
            identifier = inputs.get("identifier", name)
            out |= {
                "identifier": identifier,
                "address": f"{identifier}.c0ffee.{region}.rds.amazonaws.com",
            }
            if inputs.get("manageMasterUserPassword"):
                out["masterUserSecrets"] = [
                    {
                        "secretArn": f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:rds!db-{name}-AbCdEf",
                        "secretStatus": "active",
                    }
                ]
        elif typ == "aws:elasticache/replicationGroup:ReplicationGroup":
            group = inputs.get("replicationGroupId", name)
            short = "".join(
                part[:1] if part.isalpha() else part for part in region.split("-")
            )  # eu-west-1 -> ew1
            out |= {
                "primaryEndpointAddress": f"master.{group}.c0ffee.{short}.cache.amazonaws.com",
                "readerEndpointAddress": f"replica.{group}.c0ffee.{short}.cache.amazonaws.com",
            }
        elif typ == "aws:mq/broker:Broker":
            out["instances"] = [{"endpoints": [f"amqps://b-{name}.mq.{region}.on.aws:5671"]}]
        elif typ == "aws:lb/loadBalancer:LoadBalancer":
            out |= {
                "dnsName": f"{name}-1234567890.{region}.elb.amazonaws.com",
                "zoneId": "Z32O12XQLNTSW2",
                "arnSuffix": f"app/{name}/0123456789abcdef",
            }
        elif typ == "aws:lb/targetGroup:TargetGroup":
            out["arnSuffix"] = f"targetgroup/{name}/0123456789abcdef"
        elif typ == "aws:cloudfront/distribution:Distribution":
            out |= {"domainName": "d111111abcdef8.cloudfront.net", "hostedZoneId": "Z2FDTNDATAQYW2"}
        elif typ == "aws:s3/bucket:Bucket":
            out |= {"bucket": name, "bucketRegionalDomainName": f"{name}.s3.{region}.amazonaws.com"}
        elif typ == "aws:acm/certificate:Certificate":
            out["domainValidationOptions"] = [
                {
                    "domainName": inputs.get("domainName"),
                    "resourceRecordName": f"_c0ffee.{inputs.get('domainName')}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": "_c0ffee.acm-validations.aws.",
                }
            ]
        elif typ == "aws:route53/record:Record":
            out["fqdn"] = inputs.get("name")
        elif typ == "aws:ecr/repository:Repository":
            out |= {
                "registryId": ACCOUNT,
                "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/{inputs.get('name', name)}",
            }
        elif typ == "random:index/randomPassword:RandomPassword":
            out["result"] = f"{SECRET_MARK}{name}"
        elif typ == "aws:secretsmanager/secret:Secret":
            out["arn"] = f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{name}-AbCdEf"
        return out


# Zones as an account sees them (names map to AZ IDs per account; this is one such mapping):
# (name, AZ ID, zone type, opt-in status). us-east-1 has six zones, use1-az3 among the first
# three names, and an opted-in Local Zone, which sorts before them all.
ZONES: dict[str, list[tuple[str, str, str, str]]] = {
    "us-east-1": [
        ("us-east-1-bos-1a", "use1-bos1-az1", "local-zone", "opted-in"),
        *(
            (f"us-east-1{letter}", f"use1-az{number}", "availability-zone", "opt-in-not-required")
            for letter, number in zip("abcdef", (4, 6, 3, 1, 2, 5), strict=True)
        ),
    ],
}
DIRECTIONS = {"north": "n", "south": "s", "east": "e", "west": "w", "central": "c"}


def zone_id_prefix(region: str) -> str:
    """eu-west-1 -> euw1, ap-northeast-1 -> apne1: how AZ IDs begin in a region."""
    area, direction, number = region.split("-")
    vertical = next((w for w in ("north", "south") if direction.startswith(w)), "")
    rest = direction.removeprefix(vertical)
    return f"{area}{DIRECTIONS.get(vertical, '')}{DIRECTIONS.get(rest, '')}{number}"


def availability_zones(region: str, filters: list[dict[str, Any]]) -> dict[str, Any]:
    """DescribeAvailabilityZones as the provider returns it (sorted by name), with filters."""
    short = zone_id_prefix(region)
    zones = ZONES.get(region) or [
        (f"{region}{letter}", f"{short}-az{i}", "availability-zone", "opt-in-not-required")
        for i, letter in enumerate("abc", start=1)
    ]
    keys = {"zone-type": 2, "opt-in-status": 3}
    for f in filters:
        if f.get("name") in keys:
            zones = [z for z in zones if z[keys[f["name"]]] in (f.get("values") or [])]
    zones = sorted(zones)
    return {"names": [z[0] for z in zones], "zoneIds": [z[1] for z in zones], "id": region}


def run_preview(directory: Path, stack: str, traffic: Traffic | None = None) -> PreviewResult:
    """Run the stack program of `directory` under mocks; ConfigError if its config is invalid.

    `traffic` is the level the cost estimate assumes for data and request charges.
    """
    from . import stack as stack_module
    from .config import load_config, missing_required
    from .cost import estimate, load_prices
    from .policies.budget import monthly_budget

    invokes: list[str] = []
    config, captured, findings, outputs = run_program(
        directory, stack, lambda: load_config(check_required=False), stack_module.build, invokes
    )
    result = PreviewResult(config, captured, findings, outputs, invokes=invokes)
    result.missing_config = missing_required(config)
    triples = [(r.type, r.name, r.inputs) for r in captured]
    result.cost = estimate(triples, load_prices(config.region), traffic)
    if config.monthly_budget_usd is not None:
        budget = monthly_budget(config.monthly_budget_usd, traffic)
        problems = budget.check([Resource(*t) for t in triples])
        findings.append(
            Finding(budget.name, not problems, "; ".join(problems) or budget.description)
        )
    result.diagram = diagram(result)
    return result


C = TypeVar("C")


def run_program(
    directory: Path,
    stack: str,
    load: Callable[[], C],
    build: Callable[[C], Mapping[str, Any]],
    invokes: list[str] | None = None,
) -> tuple[C, list[Captured], list[Finding], dict[str, Any]]:
    """Run `build(load())` under mocks with `directory`'s stack config: the config, the
    captured resources, the policy findings and the outputs (the service stack and the
    bootstrap share this). `invokes` collects the data sources read, by token."""
    from pulumi.runtime import mocks as pulumi_mocks
    from pulumi.runtime import rpc
    from pulumi.runtime.config import set_all_config

    import pulumi

    project, values = read_stack_config(directory, stack)
    set_all_config(values)
    region = values.get("aws:region", "")
    mocks = _Mocks(region)
    registered: list[tuple[str, str, str, dict[str, Any]]] = []  # type, name, parent URN, inputs

    class Monitor(pulumi_mocks.MockMonitor):
        def RegisterResource(self, request: Any) -> Any:
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]  # sets up the thread loop
            if request.type != "pulumi:pulumi:Stack":
                inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
                registered.append(
                    (request.type, request.name, request.parent, _plain(inputs, reveal=True))
                )
            return response

    class Adapter(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            return mocks.new_resource(args)

        def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
            return mocks.call(args)

    adapter = Adapter()
    pulumi.runtime.set_mocks(
        adapter, project=project, stack=stack, preview=False, monitor=Monitor(adapter)
    )
    config = load()
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> pulumi.Output[Any]:
        return pulumi.Output.all(**build(config)).apply(outputs.update)

    program()

    def parent_of(urn: str) -> tuple[str | None, str | None]:
        if not urn or urn.split("::")[-2].endswith("pulumi:pulumi:Stack"):
            return None, None
        return urn.split("::")[-2].split("$")[-1], urn.split("::")[-1]

    captured = []
    for typ, name, parent_urn, inputs in registered:
        parent_type, parent = parent_of(parent_urn)
        captured.append(
            Captured(typ, name, parent, _redact(inputs, mocks.secret_values), parent_type)
        )
    if invokes is not None:
        invokes += mocks.invokes
    findings = evaluate([Resource(typ, name, inputs) for typ, name, _, inputs in registered])
    return config, captured, findings, _redact(_plain(outputs, reveal=True), mocks.secret_values)


def _plain(value: Any, reveal: bool) -> Any:
    """Unwrap secret markers (or hide them) and give integral numbers back their int type."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG[0]) == SECRET_SIG[1]:
            return _plain(value.get("value"), reveal) if reveal else REDACTED
        return {k: _plain(v, reveal) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, reveal) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    # File assets (static files uploaded to the CDN bucket) as the path Pulumi would read.
    path = getattr(value, "path", None)
    if type(value).__name__ == "FileAsset" and isinstance(path, str):
        return {"fileAsset": path}
    return value


def _redact(value: Any, secrets: set[str]) -> Any:
    """Hide every generated secret wherever it was copied (headers, auth tokens, outputs)."""
    if isinstance(value, str):
        return REDACTED if SECRET_MARK in value or value in secrets else value
    if isinstance(value, dict):
        return {k: _redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, secrets) for v in value]
    return value


def diagram(result: PreviewResult) -> str:
    """Mermaid flowchart of what this stack contains (drawn from the captured resources)."""
    c = result.config
    has = {r.type for r in result.resources}
    replicas = len(
        [
            r
            for r in result.of_type("aws:rds/instance:Instance")
            if r.inputs.get("replicateSourceDb")
        ]
    )
    lines = ["flowchart LR", "  users([Users])"]
    entry = "alb"
    if "aws:cloudfront/distribution:Distribution" in has:
        lines += [
            "  cdn[CloudFront<br/>HTTP/2+3, TLS 1.2+]",
            "  static[(S3 static<br/>OAC)]",
            "  users --> cdn",
            "  cdn -->|/static/*| static",
            "  cdn -->|API + origin-verify header| alb",
        ]
    else:
        lines.append("  users --> alb")
    tls = "HTTPS" if c.domain_name else "HTTP"
    lines += [
        f"  alb[ALB {tls}<br/>health /readyz]",
        f"  subgraph private[Private subnets x{c.network.zone_count}]",
        f"    app[ECS app<br/>{c.service.min_tasks}-{c.service.max_tasks} tasks]",
        f"    worker[ECS worker<br/>{c.service.worker_min_tasks}-{c.service.worker_max_tasks} tasks]",
        f"    db[(RDS PostgreSQL primary<br/>{'Multi-AZ' if c.database.multi_az else 'single-AZ'})]",
    ]
    if replicas:
        lines.append(f"    replicas[(Read replicas x{replicas})]")
    lines.append(f"    cache[(ElastiCache {c.cache.engine}<br/>{c.cache.nodes} nodes, TLS)]")
    if "aws:mq/broker:Broker" in has:
        lines.append(f"    mq[(Amazon MQ RabbitMQ<br/>{c.amazon_mq.deployment_mode})]")
    lines.append("  end")
    lines += [f"  {entry} --> app", "  app -->|writes| db", "  worker --> db", "  app --> cache"]
    if replicas:
        lines += ["  app -->|reads| replicas", "  db -.->|replication| replicas"]
    queue = "mq" if "aws:mq/broker:Broker" in has else "cache"
    lines += [
        f"  app -->|jobs| {queue}",
        f"  {queue} -->|jobs| worker",
        "  cw[CloudWatch alarms + dashboard] --> sns[SNS topic]",
    ]
    return "\n".join(lines)


KEY_SETTINGS: dict[str, tuple[str, ...]] = {
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("availabilityZone", "tags.AvailabilityZoneId", "cidrBlock"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("serviceName", "vpcEndpointType"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "fromPort",
        "cidrIpv4",
        "cidrIpv6",
        "prefixListId",
        "referencedSecurityGroupId",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "fromPort",
        "cidrIpv4",
        "referencedSecurityGroupId",
    ),
    "aws:lb/loadBalancer:LoadBalancer": (
        "enableHttp2",
        "dropInvalidHeaderFields",
        "ipAddressType",
        "enableDeletionProtection",
    ),
    "aws:lb/targetGroup:TargetGroup": (
        "loadBalancingAlgorithmType",
        "deregistrationDelay",
        "slowStart",
        "healthCheck.path",
    ),
    "aws:lb/listener:Listener": ("port", "protocol", "sslPolicy"),
    "aws:rds/instance:Instance": (
        "instanceClass",
        "engineVersion",
        "multiAz",
        "storageType",
        "storageEncrypted",
        "replicateSourceDb",
        "backupRetentionPeriod",
        "deletionProtection",
        "performanceInsightsEnabled",
        "monitoringInterval",
    ),
    "aws:rds/parameterGroup:ParameterGroup": ("family",),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "engine",
        "nodeType",
        "numCacheClusters",
        "multiAzEnabled",
        "automaticFailoverEnabled",
        "transitEncryptionEnabled",
        "atRestEncryptionEnabled",
    ),
    "aws:mq/broker:Broker": (
        "engineType",
        "engineVersion",
        "deploymentMode",
        "hostInstanceType",
        "publiclyAccessible",
    ),
    "aws:cloudfront/distribution:Distribution": (
        "httpVersion",
        "isIpv6Enabled",
        "priceClass",
        "viewerCertificate.minimumProtocolVersion",
        "aliases",
    ),
    "aws:ecs/service:Service": (
        "desiredCount",
        "launchType",
        "deploymentCircuitBreaker.rollback",
        "waitForSteadyState",
    ),
    "aws:ecr/repository:Repository": (
        "imageTagMutability",
        "imageScanningConfiguration.scanOnPush",
    ),
    "docker-build:index:Image": ("platforms", "tags", "push"),
    "aws:ecs/taskDefinition:TaskDefinition": ("cpu", "memory"),
    "aws:appautoscaling/policy:Policy": (
        "targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification.predefinedMetricType",
        "targetTrackingScalingPolicyConfiguration.targetValue",
    ),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("metricName", "threshold"),
}


def _lookup(inputs: Mapping[str, Any], path: str) -> Any:
    value: Any = inputs
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def render_text(result: PreviewResult) -> str:
    c = result.config
    children: dict[tuple[str | None, str | None], list[Captured]] = {}
    for r in result.resources:
        children.setdefault((r.parent_type, r.parent), []).append(r)
    lines = [
        f"Offline preview of stack {c.stack} (project {c.project}, tier {c.tier}, region {c.region}): "
        f"{len(result.resources)} resources, nothing deployed",
        "",
        "Resources",
    ]

    def walk(parent: tuple[str | None, str | None], depth: int) -> None:
        for r in children.get(parent, []):
            settings = [
                f"{k.split('.')[-1]}={json.dumps(v) if not isinstance(v, str) else v}"
                for k in KEY_SETTINGS.get(r.type, ())
                if (v := _lookup(r.inputs, k)) is not None
            ]
            lines.append(
                f"{'  ' * depth}+ {r.type}  {r.name}"
                + (f"  [{', '.join(settings)}]" if settings else "")
            )
            walk((r.type, r.name), depth + 1)

    walk((None, None), 1)
    if result.cost:
        lines += ["", *result.cost.render()]
    lines += ["", "Policies", *policy_lines(result.findings)]
    lines += ["", "Outputs"]
    lines += [f"  {k}: {json.dumps(v)}" for k, v in sorted(result.outputs.items())]
    lines += ["", "Diagram (Mermaid)", "```mermaid", result.diagram, "```"]
    if result.missing_config:
        lines += ["", "Config", *(f"  FAIL {message}" for message in result.missing_config)]
    return "\n".join(lines)


def policy_lines(findings: list[Finding]) -> list[str]:
    """PASS or FAIL per policy, with its warnings under it."""
    lines = []
    for f in findings:
        lines.append(f"  {'PASS' if f.passed else 'FAIL'} {f.name}: {f.message}")
        lines += [f"    WARN {warning}" for warning in f.warnings]
    return lines


def write_out(result: PreviewResult, directory: Path) -> list[str]:
    """`--out DIR`: the plan, the JSON, the Mermaid source and the picture, as files.

    Returns what was written, or why the picture was skipped (no Graphviz): the preview
    itself never fails for want of a picture.
    """
    from .diagram import PictureUnavailable, architecture, render

    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "plan.txt": render_text(result) + "\n",
        "preview.json": json.dumps(result.to_json(), indent=2) + "\n",
        "architecture.mmd": result.diagram + "\n",
    }
    picture = architecture(result.resources, f"{result.config.project} {result.config.stack}")
    files["architecture.txt"] = picture.summary() + "\n"
    for name, text in files.items():
        (directory / name).write_text(text)
    written = [str(directory / name) for name in files]
    try:
        written += [str(path) for path in render(picture, directory)]
    except PictureUnavailable as reason:
        return [*written, f"architecture picture skipped: {reason}"]
    return written
