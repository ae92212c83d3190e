"""One deploy role per service stack: assumed by that repository's workflow in that environment only.

The trust policy pins the OIDC subject `repo:<owner>/<repo>:environment:<environment>` and the
audience with StringEquals, as GitHub's "Configuring OpenID Connect in Amazon Web Services"
and IAM's "Create a role for OpenID Connect federation" recommend: no other repository,
branch or environment can assume it. The permissions are what `pulumi up` of that stack
needs, by service and verb, never `*` or `<service>:*`. Where the stack controls the names
AWS puts in the ARN (IAM roles, S3 buckets, secrets, ECR repositories, log groups, SNS
topics, the hosted zone) the role is scoped to the stack's `<project>-<stack>` prefix;
resources whose names `names.fit` shortens to AWS's limits (load balancers, caches) or that
AWS names itself (VPCs, subnets, distributions) are scoped by action only. IAM writes reach
roles under that prefix only, never this role (it lives under its own path), and
iam:PassRole hands those roles to ECS tasks and RDS monitoring only. The statements go into
two managed policies: one inline policy would come within 1,000 characters of IAM's quota.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi_aws as aws

import pulumi

from .github_oidc import AUDIENCE, ISSUER
from .names import fit

# Deploy roles live under their own IAM path, outside the `role/<prefix>-*` ARNs they may edit.
DEPLOY_ROLE_PATH = "/github-deploy/"
# IAM managed policy names have at most 128 characters.
POLICY_NAME_LIMIT = 128
POLICY_PARTS = {
    "services": "read, and write by service and action",
    "stack": "writes scoped to the stack's name prefix",
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

# Read-only calls Pulumi makes to read and diff state; these APIs mostly take no resource ARN.
READ_ACTIONS = (
    "acm:DescribeCertificate",
    "acm:GetCertificate",
    "acm:ListCertificates",
    "acm:ListTagsForCertificate",
    "application-autoscaling:Describe*",
    "application-autoscaling:ListTagsForResource",
    "cloudfront:Get*",
    "cloudfront:List*",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetDashboard",
    "cloudwatch:ListDashboards",
    "cloudwatch:ListTagsForResource",
    "ec2:Describe*",
    "ecr:GetAuthorizationToken",
    "ecs:Describe*",
    "ecs:List*",
    "elasticache:Describe*",
    "elasticache:ListTagsForResource",
    "elasticloadbalancing:Describe*",
    "logs:DescribeLogGroups",
    "logs:ListTagsForResource",
    "logs:ListTagsLogGroup",
    "mq:Describe*",
    "mq:List*",
    "rds:Describe*",
    "rds:ListTagsForResource",
    "route53:GetChange",
    "route53:ListHostedZones",
    "secretsmanager:ListSecrets",
    "sns:ListTopics",
    "wafv2:Get*",
    "wafv2:List*",
    "wafv2:Describe*",
)
# Create, change and delete what the stack owns, by service, on resources named by AWS.
WRITE_ACTIONS_BY_SERVICE = {
    "network": (
        "ec2:AllocateAddress",
        "ec2:ReleaseAddress",
        "ec2:AssociateAddress",
        "ec2:DisassociateAddress",
        "ec2:CreateVpc",
        "ec2:DeleteVpc",
        "ec2:ModifyVpcAttribute",
        "ec2:AssociateVpcCidrBlock",
        "ec2:DisassociateVpcCidrBlock",
        "ec2:CreateSubnet",
        "ec2:DeleteSubnet",
        "ec2:ModifySubnetAttribute",
        "ec2:AssociateSubnetCidrBlock",
        "ec2:DisassociateSubnetCidrBlock",
        "ec2:CreateInternetGateway",
        "ec2:DeleteInternetGateway",
        "ec2:AttachInternetGateway",
        "ec2:DetachInternetGateway",
        "ec2:CreateEgressOnlyInternetGateway",
        "ec2:DeleteEgressOnlyInternetGateway",
        "ec2:CreateNatGateway",
        "ec2:DeleteNatGateway",
        "ec2:CreateRouteTable",
        "ec2:DeleteRouteTable",
        "ec2:CreateRoute",
        "ec2:DeleteRoute",
        "ec2:ReplaceRoute",
        "ec2:AssociateRouteTable",
        "ec2:DisassociateRouteTable",
        "ec2:ReplaceRouteTableAssociation",
        "ec2:CreateVpcEndpoint",
        "ec2:DeleteVpcEndpoints",
        "ec2:ModifyVpcEndpoint",
        "ec2:CreateSecurityGroup",
        "ec2:DeleteSecurityGroup",
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:ModifySecurityGroupRules",
        "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
        "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
        "ec2:CreateTags",
        "ec2:DeleteTags",
        # Amazon MQ creates the broker's network interfaces with the caller's permissions.
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
        "ec2:DetachNetworkInterface",
    ),
    "load-balancer": (
        "elasticloadbalancing:Create*",
        "elasticloadbalancing:Delete*",
        "elasticloadbalancing:Modify*",
        "elasticloadbalancing:AddTags",
        "elasticloadbalancing:RemoveTags",
        "elasticloadbalancing:SetSecurityGroups",
        "elasticloadbalancing:SetSubnets",
        "elasticloadbalancing:SetIpAddressType",
        "elasticloadbalancing:SetWebAcl",
        "acm:RequestCertificate",
        "acm:DeleteCertificate",
        "acm:AddTagsToCertificate",
        "acm:RemoveTagsFromCertificate",
    ),
    "containers": (
        "ecs:CreateCluster",
        "ecs:UpdateCluster",
        "ecs:UpdateClusterSettings",
        "ecs:DeleteCluster",
        "ecs:PutClusterCapacityProviders",
        "ecs:CreateService",
        "ecs:UpdateService",
        "ecs:DeleteService",
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "ecs:DeleteTaskDefinitions",
        "ecs:TagResource",
        "ecs:UntagResource",
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:DeregisterScalableTarget",
        "application-autoscaling:PutScalingPolicy",
        "application-autoscaling:DeleteScalingPolicy",
        "application-autoscaling:TagResource",
        "application-autoscaling:UntagResource",
    ),
    "data-stores": (
        "rds:Create*",
        "rds:Delete*",
        "rds:Modify*",
        "rds:AddTagsToResource",
        "rds:RemoveTagsFromResource",
        "rds:RebootDBInstance",
        "rds:PromoteReadReplica",
        "elasticache:Create*",
        "elasticache:Delete*",
        "elasticache:Modify*",
        "elasticache:AddTagsToResource",
        "elasticache:RemoveTagsFromResource",
        "elasticache:IncreaseReplicaCount",
        "elasticache:DecreaseReplicaCount",
        "mq:CreateBroker",
        "mq:CreateTags",
        "mq:CreateUser",
        "mq:DeleteBroker",
        "mq:DeleteTags",
        "mq:DeleteUser",
        "mq:UpdateBroker",
        "mq:UpdateUser",
        "mq:RebootBroker",
    ),
    "edge": (
        "cloudfront:Create*",
        "cloudfront:Update*",
        "cloudfront:Delete*",
        "cloudfront:TagResource",
        "cloudfront:UntagResource",
        "wafv2:CreateWebACL",
        "wafv2:UpdateWebACL",
        "wafv2:DeleteWebACL",
        "wafv2:AssociateWebACL",
        "wafv2:DisassociateWebACL",
        "wafv2:TagResource",
        "wafv2:UntagResource",
    ),
    "monitoring": (
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DeleteAlarms",
        "cloudwatch:PutDashboard",
        "cloudwatch:DeleteDashboards",
        "cloudwatch:TagResource",
        "cloudwatch:UntagResource",
    ),
}
# Actions on resources whose ARN carries the stack's name prefix.
IAM_ROLE_ACTIONS = (
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:GetRole",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:ListRoleTags",
    "iam:PutRolePolicy",
    "iam:GetRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:ListRolePolicies",
    "iam:ListAttachedRolePolicies",
    "iam:DetachRolePolicy",
    "iam:ListInstanceProfilesForRole",
)
S3_BUCKET_ACTIONS = (
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:Get*",
    "s3:List*",
    "s3:Put*",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
)
SECRET_ACTIONS = (
    "secretsmanager:CreateSecret",
    "secretsmanager:DeleteSecret",
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetResourcePolicy",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecret",
    "secretsmanager:RestoreSecret",
    "secretsmanager:TagResource",
    "secretsmanager:UntagResource",
)
ECR_ACTIONS = (
    "ecr:CreateRepository",
    "ecr:DeleteRepository",
    "ecr:DescribeRepositories",
    "ecr:ListTagsForResource",
    "ecr:TagResource",
    "ecr:UntagResource",
    "ecr:PutImageScanningConfiguration",
    "ecr:PutImageTagMutability",
    "ecr:GetLifecyclePolicy",
    "ecr:PutLifecyclePolicy",
    "ecr:DeleteLifecyclePolicy",
    "ecr:GetRepositoryPolicy",
    "ecr:DescribeImages",
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
)
LOG_ACTIONS = (
    "logs:CreateLogGroup",
    "logs:DeleteLogGroup",
    "logs:PutRetentionPolicy",
    "logs:DeleteRetentionPolicy",
    "logs:TagResource",
    "logs:UntagResource",
    "logs:TagLogGroup",
    "logs:UntagLogGroup",
)
SNS_ACTIONS = (
    "sns:CreateTopic",
    "sns:DeleteTopic",
    "sns:GetTopicAttributes",
    "sns:SetTopicAttributes",
    "sns:ListTagsForResource",
    "sns:TagResource",
    "sns:UntagResource",
    "sns:Subscribe",
    "sns:Unsubscribe",
    "sns:GetSubscriptionAttributes",
    "sns:SetSubscriptionAttributes",
    "sns:ListSubscriptionsByTopic",
)
ROUTE53_ACTIONS = (
    "route53:GetHostedZone",
    "route53:ListResourceRecordSets",
    "route53:ChangeResourceRecordSets",
    "route53:ListTagsForResource",
)
STATE_OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
STATE_BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning")
STATE_KEY_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey")


def partition(region: str) -> str:
    """The ARN partition of a region (aws, aws-cn, aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


@dataclass(frozen=True)
class DeployScope:
    """What one deploy role may touch: the stack's name prefix, region and optional extras."""

    region: str
    name_prefix: str
    hosted_zone_id: str | None = None
    state_bucket: str | None = None
    state_key_arn: str | None = None
    # The account's release repository (bootstrap): CI pushes the commit's image there once,
    # and every stack's deploy pulls the same tag.
    release_repository: str | None = None


RELEASE_IMAGE_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:DescribeImages",
    "ecr:GetDownloadUrlForLayer",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
)


def _statement(sid: str, actions: Sequence[str], resources: Sequence[str]) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": list(resources),
    }


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def deploy_permissions(scope: DeployScope) -> dict[str, dict[str, Any]]:
    """The deploy role's permission policies for one stack: `services` holds what AWS cannot
    scope by name, `stack` what carries the stack's name prefix in its ARN. Two managed
    policies because one inline policy (10,240 characters per role) barely holds both."""
    arn, region, prefix = partition(scope.region), scope.region, scope.name_prefix
    statements = [_statement("Read", READ_ACTIONS, ["*"])]
    statements += [
        _statement("".join(part.title() for part in concern.split("-")), actions, ["*"])
        for concern, actions in WRITE_ACTIONS_BY_SERVICE.items()
    ]
    kms = _statement(
        "KeysThroughServices",
        ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*"),
        ["*"],
    )
    kms["Condition"] = {
        "StringEquals": {
            "kms:ViaService": [f"{service}.{region}.amazonaws.com" for service in KMS_VIA_SERVICES]
        }
    }
    statements.append(kms)
    services, statements = statements, []
    statements += [
        _statement("StackRoles", IAM_ROLE_ACTIONS, [f"arn:{arn}:iam::*:role/{prefix}-*"]),
        {
            **_statement(
                "StackRolesManagedPolicies",
                ("iam:AttachRolePolicy",),
                [f"arn:{arn}:iam::*:role/{prefix}-*"],
            ),
            "Condition": {
                "ArnEquals": {
                    "iam:PolicyARN": [f"arn:{arn}:iam::aws:{p}" for p in ATTACHABLE_POLICIES]
                }
            },
        },
        _statement(
            "ManagedPolicyReads",
            ("iam:GetPolicy", "iam:GetPolicyVersion"),
            [f"arn:{arn}:iam::aws:{p}" for p in ATTACHABLE_POLICIES],
        ),
        {
            **_statement(
                "PassStackRoles", ("iam:PassRole",), [f"arn:{arn}:iam::*:role/{prefix}-*"]
            ),
            "Condition": {"StringEquals": {"iam:PassedToService": list(PASSED_TO_SERVICES)}},
        },
        {
            **_statement(
                "ServiceLinkedRoles",
                ("iam:CreateServiceLinkedRole",),
                [f"arn:{arn}:iam::*:role/aws-service-role/*"],
            ),
            "Condition": {"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLES)}},
        },
        _statement(
            "StackBuckets",
            S3_BUCKET_ACTIONS,
            [f"arn:{arn}:s3:::{prefix}-*", f"arn:{arn}:s3:::{prefix}-*/*"],
        ),
        _statement(
            "StackSecrets",
            SECRET_ACTIONS,
            [f"arn:{arn}:secretsmanager:{region}:*:secret:{prefix}-*"],
        ),
        _statement("StackImages", ECR_ACTIONS, [f"arn:{arn}:ecr:{region}:*:repository/{prefix}*"]),
        *(
            [
                _statement(
                    "ReleaseImages",
                    RELEASE_IMAGE_ACTIONS,
                    [f"arn:{arn}:ecr:{region}:*:repository/{scope.release_repository}"],
                )
            ]
            if scope.release_repository
            else []
        ),
        _statement(
            "StackLogs",
            LOG_ACTIONS,
            [
                f"arn:{arn}:logs:{region}:*:log-group:/ecs/{prefix}*",
                f"arn:{arn}:logs:{region}:*:log-group:/ecs/{prefix}*:*",
                # Created by the stack before each instance, so that they have a retention.
                f"arn:{arn}:logs:{region}:*:log-group:/aws/rds/instance/{prefix}*",
                f"arn:{arn}:logs:{region}:*:log-group:/aws/rds/instance/{prefix}*:*",
            ],
        ),
        _statement("StackTopics", SNS_ACTIONS, [f"arn:{arn}:sns:{region}:*:{prefix}-*"]),
    ]
    if scope.hosted_zone_id:
        statements.append(
            _statement(
                "StackRecords",
                ROUTE53_ACTIONS,
                [f"arn:{arn}:route53:::hostedzone/{scope.hosted_zone_id}"],
            )
        )
    if scope.state_bucket and scope.state_key_arn:
        statements += [
            _statement(
                "StateBucket", STATE_BUCKET_ACTIONS, [f"arn:{arn}:s3:::{scope.state_bucket}"]
            ),
            _statement(
                "StateObjects",
                STATE_OBJECT_ACTIONS,
                [f"arn:{arn}:s3:::{scope.state_bucket}/.pulumi/*"],
            ),
            _statement("StateKey", STATE_KEY_ACTIONS, [scope.state_key_arn]),
        ]
    return {"services": _document(services), "stack": _document(statements)}


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
    # The service stack's `<project>-<stack>` prefix.
    name_prefix: str
    hosted_zone_id: str | None = None
    state_bucket: pulumi.Input[str] | None = None
    state_key_arn: pulumi.Input[str] | None = None
    release_repository: str | None = None
    max_session_seconds: int = MAX_SESSION_SECONDS
    tags: Mapping[str, str] = field(default_factory=dict)


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
        state = pulumi.Output.all(bucket=args.state_bucket or "", key=args.state_key_arn or "")
        documents = state.apply(
            lambda s: deploy_permissions(
                DeployScope(
                    region=args.region,
                    name_prefix=args.name_prefix,
                    hosted_zone_id=args.hosted_zone_id,
                    state_bucket=s["bucket"] or None,
                    state_key_arn=s["key"] or None,
                    release_repository=args.release_repository,
                )
            )
        )
        for part in ("services", "stack"):
            policy = aws.iam.Policy(
                f"{name}-{part}",
                name=fit(f"{args.role_name}-{part}", POLICY_NAME_LIMIT),
                path=DEPLOY_ROLE_PATH,
                description=f"pulumi up of {args.name_prefix}: {POLICY_PARTS[part]}",
                policy=documents[part].apply(_compact),
                tags=dict(args.tags),
                opts=child,
            )
            aws.iam.RolePolicyAttachment(
                f"{name}-{part}", role=role.name, policy_arn=policy.arn, opts=child
            )
        self.arn = role.arn
        self.role_name = role.name
        self.register_outputs({"arn": self.arn, "role_name": self.role_name})
