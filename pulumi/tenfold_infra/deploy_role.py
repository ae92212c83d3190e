"""One deploy role per service stack: assumed by that repository's workflow in that environment only.

The trust policy pins the OIDC subject `repo:<owner>/<repo>:environment:<environment>` and the
audience with StringEquals, as GitHub's "Configuring OpenID Connect in Amazon Web Services"
and IAM's "Create a role for OpenID Connect federation" recommend: no other repository,
branch or environment can assume it.

The permissions are the actions `pulumi up` of that stack needs and nothing else, derived
from AWS's data (policies/deploy_actions.py: CloudFormation's handler permissions of each
resource type the stack creates, the data sources it reads, and their dependent actions in
the Service Authorization Reference), plus read-only Describe*/List* of the services it uses.
Where the stack controls the names AWS puts in the ARN (IAM roles, S3 buckets, secrets, the
ECR repository, log groups, SNS topics, the hosted zone's records) actions are scoped to the
stack's name prefix; the rest is granted on "*", by service. IAM writes reach roles under
that prefix only, never this role (it lives under its own path), iam:PassRole hands those
roles to ECS tasks and RDS monitoring only, and KMS works only through the stack's services.
The statements fill as many managed policies as IAM's size quota needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi_aws as aws

import pulumi

from .github_oidc import AUDIENCE, ISSUER
from .names import fit
from .policies.deploy_actions import (
    PIPELINE,
    ROLE_PIPELINE_USES,
    action_info,
    actions_of,
    covered_by_read_wildcard,
    read_wildcards,
)

# Deploy roles live under their own IAM path, outside the `role/<prefix>-*` ARNs they may edit.
DEPLOY_ROLE_PATH = "/github-deploy/"
# IAM managed policy names have at most 128 characters.
POLICY_NAME_LIMIT = 128
# IAM's quotas: 6,144 characters (whitespace not counted) per managed policy, 10 managed
# policies per role by default. https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
POLICY_CHARS = 6144
POLICIES_PER_ROLE = 10
POLICY_PARTS = {
    "services": "actions on resources AWS names, by service",
    "stack": "actions scoped to the stack's name prefix",
    "state": "the Pulumi state backend",
}
# The first `pulumi up` of prod (Multi-AZ RDS, an Amazon MQ cluster, CloudFront) can take
# more than the default hour; IAM allows 1 to 12 hours.
MAX_SESSION_SECONDS = 2 * 3600
# Services the stack's roles are handed to with iam:PassRole.
PASSED_TO_SERVICES = ("ecs-tasks.amazonaws.com", "monitoring.rds.amazonaws.com")
# Managed policies the stack attaches to its roles; AttachRolePolicy allows only these.
ATTACHABLE_POLICIES = (
    "policy/service-role/AmazonECSTaskExecutionRolePolicy",
    "policy/service-role/AmazonRDSEnhancedMonitoringRole",
)
# Service-linked roles a first deploy in a fresh account makes AWS create.
SERVICE_LINKED_ROLES = (
    "ecs.amazonaws.com",
    "ecs.application-autoscaling.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "rds.amazonaws.com",
    "elasticache.amazonaws.com",
    "mq.amazonaws.com",
    "vpcorigin.cloudfront.amazonaws.com",
)
# Services that may use KMS keys on the role's behalf (their AWS managed keys).
KMS_VIA_SERVICES = ("rds", "secretsmanager", "elasticache", "mq", "ecr", "s3", "logs")
# Route 53 actions AWS takes on hosted zones it owns (an interface endpoint's private DNS,
# Amazon MQ's broker names): granted on "*", never scoped to the stack's zone.
AWS_OWNED_ZONE_ACTIONS = ("route53:AssociateVPCWithHostedZone",)
STATE_BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning")


def partition(region: str) -> str:
    """The ARN partition of a region (aws, aws-cn, aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


@dataclass(frozen=True)
class DeployScope:
    """What one deploy role may touch: the stack's name prefix, region, needs and extras."""

    region: str
    name_prefix: str
    # Every action `pulumi up` of the stack and the pipeline's scripts need (stack_actions).
    actions: frozenset[str] = frozenset()
    hosted_zone_id: str | None = None
    # The names whose records the stack writes in that zone (stack.record_names), and those
    # of the account's other stacks that fall under them (dev.<domain> under <domain>).
    record_names: tuple[str, ...] = ()
    foreign_record_names: tuple[str, ...] = ()
    state_bucket: str | None = None
    state_key_arn: str | None = None
    # The account's release repository (bootstrap): CI pushes the commit's image there once,
    # and every stack's deploy pulls the same tag.
    release_repository: str | None = None


# The condition key naming the records a ChangeResourceRecordSets call changes, lower case and
# without the final dot: https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-rrset-conditions.html
RECORD_NAMES_KEY = "route53:ChangeResourceRecordSetsNormalizedRecordNames"
RECORD_CHANGES = "route53:ChangeResourceRecordSets"


def record_patterns(names: Iterable[str]) -> list[str]:
    """Each name and its certificate validation records (`_<token>.<name>`)."""
    return [pattern for name in names for pattern in (name.lower(), f"_*.{name.lower()}")]


def stack_actions(footprint: Iterable[str]) -> frozenset[str]:
    """The actions of a stack with this footprint (stack.footprint: the resource types it
    creates and the data sources it reads), with the pipeline's own uses of the role."""
    found = {action for key in footprint for action in actions_of(key)}
    found |= {action for use in ROLE_PIPELINE_USES for action in PIPELINE[use].actions}
    return frozenset(found)


def _statement(sid: str, actions: Iterable[str], resources: Sequence[str]) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": list(resources),
    }


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _sid(service: str) -> str:
    return "".join(part.title() for part in service.split("-"))


@dataclass(frozen=True)
class _ByName:
    """A service whose resources the stack names: its statement, the Service Authorization
    Reference's resource types that take those names, and the stack's ARNs."""

    sid: str
    resource_types: tuple[str, ...]
    arns: tuple[str, ...]


def _by_name(scope: DeployScope) -> dict[str, _ByName]:
    arn, region, prefix = partition(scope.region), scope.region, scope.name_prefix
    zone = scope.hosted_zone_id
    logs = f"arn:{arn}:logs:{region}:*:log-group"
    return {
        "iam": _ByName("StackRoles", ("role",), (f"arn:{arn}:iam::*:role/{prefix}-*",)),
        "s3": _ByName(
            "StackBuckets",
            ("bucket", "object"),
            (f"arn:{arn}:s3:::{prefix}-*", f"arn:{arn}:s3:::{prefix}-*/*"),
        ),
        "secretsmanager": _ByName(
            "StackSecrets", ("Secret",), (f"arn:{arn}:secretsmanager:{region}:*:secret:{prefix}-*",)
        ),
        "ecr": _ByName(
            "StackImages",
            ("repository",),
            (f"arn:{arn}:ecr:{region}:*:repository/{prefix.lower()}",),
        ),
        "logs": _ByName(
            "StackLogs",
            ("log-group",),
            (
                f"{logs}:/ecs/{prefix}",
                f"{logs}:/ecs/{prefix}:*",
                # Created by the stack before each instance, so that they have a retention.
                f"{logs}:/aws/rds/instance/{prefix}-*",
                f"{logs}:/aws/rds/instance/{prefix}-*:*",
            ),
        ),
        "sns": _ByName("StackTopics", ("topic",), (f"arn:{arn}:sns:{region}:*:{prefix}-*",)),
        "route53": _ByName(
            "StackRecords",
            ("hostedzone",),
            (f"arn:{arn}:route53:::hostedzone/{zone}",) if zone else (),
        ),
    }


def _conditioned(scope: DeployScope) -> dict[str, dict[str, Any]]:
    """IAM actions granted only with a condition that narrows them further."""
    arn, prefix = partition(scope.region), scope.name_prefix
    roles = [f"arn:{arn}:iam::*:role/{prefix}-*"]
    return {
        "iam:AttachRolePolicy": {
            **_statement("StackRolesManagedPolicies", ("iam:AttachRolePolicy",), roles),
            "Condition": {
                "ArnEquals": {
                    "iam:PolicyARN": [f"arn:{arn}:iam::aws:{p}" for p in ATTACHABLE_POLICIES]
                }
            },
        },
        "iam:PassRole": {
            **_statement("PassStackRoles", ("iam:PassRole",), roles),
            "Condition": {"StringEquals": {"iam:PassedToService": list(PASSED_TO_SERVICES)}},
        },
        RECORD_CHANGES: _record_changes(scope),
        "iam:CreateServiceLinkedRole": {
            **_statement(
                "ServiceLinkedRoles",
                ("iam:CreateServiceLinkedRole",),
                [f"arn:{arn}:iam::*:role/aws-service-role/*"],
            ),
            "Condition": {"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLES)}},
        },
    }


def _record_changes(scope: DeployScope) -> dict[str, Any]:
    """Record changes in the stack's zone, to the stack's own names only: dev's and prod's
    records share one zone, and neither pipeline may rewrite the other's."""
    if not scope.hosted_zone_id:
        return {}
    condition: dict[str, Any] = {
        "ForAllValues:StringLike": {RECORD_NAMES_KEY: record_patterns(scope.record_names)}
    }
    if scope.foreign_record_names:
        foreign = [p for name in scope.foreign_record_names for p in (name, f"*.{name}")]
        condition["ForAllValues:StringNotLike"] = {RECORD_NAMES_KEY: foreign}
    return {
        **_statement(
            "StackRecordChanges",
            (RECORD_CHANGES,),
            [f"arn:{partition(scope.region)}:route53:::hostedzone/{scope.hosted_zone_id}"],
        ),
        "Condition": condition,
    }


def _statements(
    scope: DeployScope, actions: Iterable[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(statements on "*", by service; statements scoped to the stack's ARNs)."""
    by_name, conditioned = _by_name(scope), _conditioned(scope)
    anywhere: dict[str, set[str]] = {}
    scoped: dict[str, set[str]] = {}
    special: list[dict[str, Any]] = []
    for action in sorted(actions):
        service = action.split(":", 1)[0]
        if action in conditioned:
            if not conditioned[action]:
                raise ValueError(f"{action} needs the stack's hosted zone, and it has none")
            special.append(conditioned[action])
            continue
        named = by_name.get(service)
        if named and named.arns and action not in AWS_OWNED_ZONE_ACTIONS:
            level, takes = action_info(action)
            if set(named.resource_types) & set(takes):
                scoped.setdefault(service, set()).add(action)
                continue
            if service == "iam" and level not in ("Read", "List"):
                raise ValueError(f"{action} takes no role ARN: a deploy role never writes IAM on *")
        anywhere.setdefault(service, set()).add(action)
    region = scope.region
    services = [
        _statement(_sid(service), actions_, ["*"])
        for service, actions_ in sorted(anywhere.items())
        if service != "kms"
    ]
    if "kms" in anywhere:
        via = [f"{service}.{region}.amazonaws.com" for service in KMS_VIA_SERVICES]
        services.append(
            {
                **_statement("KeysThroughServices", anywhere["kms"], ["*"]),
                "Condition": {"StringEquals": {"kms:ViaService": via}},
            }
        )
    stack = [
        _statement(by_name[service].sid, scoped[service], by_name[service].arns)
        for service in by_name
        if service in scoped
    ]
    return services, [*stack, *special]


def _split(part: str, statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Statements packed in order into documents of at most POLICY_CHARS: `part`, `part-2`..."""
    documents: list[list[dict[str, Any]]] = [[]]
    for statement in statements:
        if documents[-1] and len(_compact(_document([*documents[-1], statement]))) > POLICY_CHARS:
            documents.append([])
        documents[-1].append(statement)
    return {
        part if i == 0 else f"{part}-{i + 1}": _document(document)
        for i, document in enumerate(documents)
        if document
    }


def deploy_permissions(scope: DeployScope) -> dict[str, dict[str, Any]]:
    """The deploy role's permission policies for one stack, by part: `services` (`services-2`,
    ...) hold what AWS names itself, on "*"; `stack` what carries the stack's name prefix in
    its ARN, and the release repository; `state` the state backend, when there is one.
    Managed policies, because one inline policy (10,240 characters per role) cannot hold them."""
    wildcards = read_wildcards({a.split(":", 1)[0] for a in scope.actions})
    explicit = {a for a in scope.actions if not covered_by_read_wildcard(a, wildcards)}
    if scope.release_repository:
        # The login token of the release push belongs to no repository: "*".
        explicit.add("ecr:GetAuthorizationToken")
    anywhere, stack = _statements(scope, explicit)
    if scope.release_repository:
        release = [
            a for a in PIPELINE["release image push"].actions if a != "ecr:GetAuthorizationToken"
        ]
        arn, region = partition(scope.region), scope.region
        stack.append(
            _statement(
                "ReleaseImages",
                release,
                [f"arn:{arn}:ecr:{region}:*:repository/{scope.release_repository}"],
            )
        )
    services = [_statement("Read", wildcards, ["*"]), *anywhere] if wildcards else anywhere
    documents = {**_split("services", services), **_split("stack", stack)}
    if scope.state_bucket and scope.state_key_arn:
        documents["state"] = _document(state_statements(scope))
    if len(documents) > POLICIES_PER_ROLE:
        raise ValueError(
            f"the deploy role of {scope.name_prefix} needs {len(documents)} managed policies, "
            f"over IAM's default quota of {POLICIES_PER_ROLE} per role"
        )
    return documents


def state_statements(scope: DeployScope) -> list[dict[str, Any]]:
    """The state under .pulumi/ and its key (PIPELINE["Pulumi state backend"])."""
    arn = partition(scope.region)
    actions = PIPELINE["Pulumi state backend"].actions
    objects = [a for a in actions if a.startswith("s3:") and a not in STATE_BUCKET_ACTIONS]
    return [
        _statement("StateBucket", STATE_BUCKET_ACTIONS, [f"arn:{arn}:s3:::{scope.state_bucket}"]),
        _statement("StateObjects", objects, [f"arn:{arn}:s3:::{scope.state_bucket}/.pulumi/*"]),
        _statement(
            "StateKey", [a for a in actions if a.startswith("kms:")], [str(scope.state_key_arn)]
        ),
    ]


def _compact(document: Mapping[str, Any]) -> str:
    """IAM counts every character but whitespace against a policy's size limit."""
    return json.dumps(document, separators=(",", ":"))


def trust_policy(provider_arn: str, repository: str, environment: str) -> dict[str, Any]:
    """Only `repository`'s jobs running in GitHub environment `environment` may assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{ISSUER}:aud": AUDIENCE,
                        f"{ISSUER}:sub": f"repo:{repository}:environment:{environment}",
                    }
                },
            }
        ],
    }


@dataclass(frozen=True)
class DeployRoleArgs:
    provider_arn: pulumi.Input[str]
    github_repository: str
    environment: str
    # The physical role name (the stack's prefix is taken by the roles the stack creates).
    role_name: str
    region: str
    # The service stack's name prefix (its StackConfig.name).
    name_prefix: str
    # What the stack's `pulumi up` and the pipeline need (stack_actions).
    actions: frozenset[str]
    hosted_zone_id: str | None = None
    record_names: tuple[str, ...] = ()
    foreign_record_names: tuple[str, ...] = ()
    state_bucket: pulumi.Input[str] | None = None
    state_key_arn: pulumi.Input[str] | None = None
    release_repository: str | None = None
    max_session_seconds: int = MAX_SESSION_SECONDS
    tags: Mapping[str, str] = field(default_factory=dict)


def _policy_documents(args: DeployRoleArgs) -> dict[str, pulumi.Input[str]]:
    """The role's policy documents by part; only the state backend's wait for its resources."""
    scope = DeployScope(
        region=args.region,
        name_prefix=args.name_prefix,
        actions=args.actions,
        hosted_zone_id=args.hosted_zone_id,
        record_names=args.record_names,
        foreign_record_names=args.foreign_record_names,
        release_repository=args.release_repository,
    )
    documents: dict[str, pulumi.Input[str]] = {
        part: _compact(document) for part, document in deploy_permissions(scope).items()
    }
    if args.state_bucket is not None and args.state_key_arn is not None:
        documents["state"] = pulumi.Output.all(args.state_bucket, args.state_key_arn).apply(
            lambda names: _compact(
                _document(
                    state_statements(
                        DeployScope(
                            region=args.region,
                            name_prefix=args.name_prefix,
                            state_bucket=names[0],
                            state_key_arn=names[1],
                        )
                    )
                )
            )
        )
    if len(documents) > POLICIES_PER_ROLE:
        raise ValueError(
            f"the deploy role of {args.name_prefix} needs {len(documents)} managed "
            f"policies, over IAM's default quota of {POLICIES_PER_ROLE} per role"
        )
    return documents


class DeployRole(pulumi.ComponentResource):
    arn: pulumi.Output[str]
    role_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: DeployRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:deploy_role:DeployRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            name,
            name=args.role_name,
            path=DEPLOY_ROLE_PATH,
            description=(
                f"pulumi up of {args.name_prefix} from {args.github_repository}, "
                f"GitHub environment {args.environment}"
            ),
            assume_role_policy=pulumi.Output.from_input(args.provider_arn).apply(
                lambda arn: json.dumps(trust_policy(arn, args.github_repository, args.environment))
            ),
            max_session_duration=args.max_session_seconds,
            tags=dict(args.tags),
            opts=child,
        )
        documents = _policy_documents(args)
        for part, document in documents.items():
            policy = aws.iam.Policy(
                f"{name}-{part}",
                name=fit(f"{args.role_name}-{part}", POLICY_NAME_LIMIT),
                path=DEPLOY_ROLE_PATH,
                description=(
                    f"pulumi up of {args.name_prefix}: {POLICY_PARTS[part.split('-')[0]]}"
                ),
                policy=document,
                tags=dict(args.tags),
                opts=child,
            )
            aws.iam.RolePolicyAttachment(
                f"{name}-{part}", role=role.name, policy_arn=policy.arn, opts=child
            )
        self.arn = role.arn
        self.role_name = role.name
        self.register_outputs({"arn": self.arn, "role_name": self.role_name})
