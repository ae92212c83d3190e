"""What a policy sees: resources as plain dicts of Pulumi wire (camelCase) properties.

Standard library only, so the pulumi-policy pack imports this package without pulumi_aws.
Both the SDK mocks (offline preview) and the policy engine (`pulumi preview --policy-pack`)
hand resources over in this shape. Prod-only rules read the `Tier` tag every tenfold
resource carries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

RDS_INSTANCE = "aws:rds/instance:Instance"
RDS_PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
CACHE_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
MQ_BROKER = "aws:mq/broker:Broker"
LOAD_BALANCERS = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
LISTENERS = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
SG_INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LEGACY_SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
ECS_SERVICE = "aws:ecs/service:Service"
BUCKET_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"

# Ports the internet (or CloudFront) may reach; everything stateful is reached by SG reference only.
PUBLIC_PORTS = {80, 443}
STATEFUL_PORTS = {5432, 6379, 5671, 5672}
ALB_TLS_POLICIES = (
    "ELBSecurityPolicy-TLS13-1-2",
    "ELBSecurityPolicy-TLS-1-2",
    "ELBSecurityPolicy-FS-1-2",
)
WORLD = {"0.0.0.0/0", "::/0"}


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    props: Mapping[str, Any]

    @property
    def prod(self) -> bool:
        return (self.props.get("tags") or {}).get("Tier") == "prod"


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    check: Callable[[list[Resource]], list[str]]
    # What the stack may deploy but should know: printed as warnings, never a failure.
    warn: Callable[[list[Resource]], list[str]] | None = None


@dataclass(frozen=True)
class Finding:
    name: str
    passed: bool
    message: str
    warnings: tuple[str, ...] = ()


def of_types(resources: Iterable[Resource], *types: str) -> list[Resource]:
    return [r for r in resources if r.type in types]


def is_primary(r: Resource) -> bool:
    return not r.props.get("replicateSourceDb")
