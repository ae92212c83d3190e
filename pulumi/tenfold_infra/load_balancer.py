"""Application Load Balancer: HTTP/2, strict header parsing, access logs, /readyz health checks."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi_aws as aws

import pulumi

from .buckets import private_bucket
from .certificates import validated_certificate
from .knobs import KnobError, knob, one_of, whole
from .names import fit
from .security import APP_PORT

ORIGIN_VERIFY_HEADER = "X-Origin-Verify"
# ELBv2 names: at most 32 characters, alphanumerics and hyphens (botocore's model has no limit):
# https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
# https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html
ELB_NAME_LIMIT = 32
# TLS 1.3 with TLS 1.2 fallback, forward-secret ciphers only.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# How long the ALB keeps an idle client or target connection (AWS's default). The service
# must keep its idle connections longer, so the ALB always closes them first: a target
# that closes first can meet a request the ALB just sent on that connection, which the
# ALB answers 502. The service (service.py) gets this plus a margin, the
# `target-idle-outlasts-load-balancer` policy checks it:
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html#connection-idle-timeout
IDLE_TIMEOUT_SECONDS = 60
# Regions older than August 2022 deliver ALB logs from a regional ELB account; newer ones
# only from the log delivery service principal (and have no ELB account to look up).
ELB_ACCOUNT_REGIONS = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "af-south-1",
        "ap-east-1",
        "ap-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ca-central-1",
        "eu-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-south-1",
        "eu-north-1",
        "me-south-1",
        "sa-east-1",
    }
)


@dataclass(frozen=True)
class LoadBalancerSettings:
    """The load balancer knobs of a stack (Pulumi.<stack>.yaml)."""

    # AWS refuses slow start together with least_outstanding_requests; LOR wins by default
    # because request costs vary a lot in an API (cached reads vs. heavy writes).
    routing_algorithm: Literal["least_outstanding_requests", "round_robin"] = knob(
        "albRoutingAlgorithm",
        "least_outstanding_requests",
        one_of("least_outstanding_requests", "round_robin"),
    )
    slow_start_seconds: int = knob(
        "albSlowStartSeconds", 0, whole(0, 900), doc="0, or 30-900 with round_robin only"
    )

    def __post_init__(self) -> None:
        if self.slow_start_seconds and self.routing_algorithm != "round_robin":
            raise KnobError(
                "albSlowStartSeconds",
                "must be 0 unless albRoutingAlgorithm is round_robin "
                "(AWS cannot combine slow start with least_outstanding_requests)",
                self.slow_start_seconds,
            )
        if self.slow_start_seconds and not 30 <= self.slow_start_seconds <= 900:
            raise KnobError(
                "albSlowStartSeconds", "must be 0 or from 30 to 900", self.slow_start_seconds
            )


@dataclass(frozen=True)
class LoadBalancerArgs:
    region: str
    vpc_id: pulumi.Input[str]
    # Public subnets for an internet-facing ALB, private ones for an internal one.
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    deletion_protection: bool
    # Internal: only reachable inside the VPC (CloudFront reaches it through a VPC origin).
    internal: bool = False
    domain_name: str | None = None
    hosted_zone_id: str | None = None
    # With a CDN in front: the header CloudFront adds and the listener rule demands.
    origin_verify_secret: pulumi.Input[str] | None = None
    # Name CloudFront uses to reach the ALB over TLS when a domain is set (origin.<domain>).
    origin_domain_name: str | None = None
    health_check_path: str = "/readyz"
    # Long enough for in-flight requests to finish, short enough to keep deploys quick.
    deregistration_delay_seconds: int = 30
    settings: LoadBalancerSettings = field(default_factory=LoadBalancerSettings)
    idle_timeout_seconds: int = IDLE_TIMEOUT_SECONDS
    access_log_retention_days: int = 90
    tags: Mapping[str, str] = field(default_factory=dict)


class LoadBalancer(pulumi.ComponentResource):
    arn: pulumi.Output[str]
    arn_suffix: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    zone_id: pulumi.Output[str]
    target_group_arn: pulumi.Output[str]
    target_group_arn_suffix: pulumi.Output[str]
    listener_arn: pulumi.Output[str]
    url: pulumi.Output[str]
    https: bool

    def __init__(
        self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:load_balancer:LoadBalancer", name, None, opts)
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)
        self._tags = dict(args.tags)

        alb = self._balancer(*self._access_logs())
        target_group = self._target_group()
        self.https = args.domain_name is not None
        listener = (
            self._https_listeners(alb, target_group)
            if self.https
            else self._http_listener(alb, target_group)
        )
        attachments: list[pulumi.Resource] = [listener]
        if args.origin_verify_secret is not None:
            attachments.append(
                self._origin_verify_rule(listener, target_group, args.origin_verify_secret)
            )

        self.arn = alb.arn
        self.arn_suffix = alb.arn_suffix
        self.dns_name = alb.dns_name
        self.zone_id = alb.zone_id
        # ECS refuses a target group no listener forwards to: consumers of this ARN wait for
        # the listener (and the origin-verify rule, the only forward when the CDN is on).
        self.target_group_arn = pulumi.Output.all(
            target_group.arn, *[a.urn for a in attachments]
        ).apply(lambda values: str(values[0]))
        self.target_group_arn_suffix = target_group.arn_suffix
        self.listener_arn = listener.arn
        self.register_outputs(
            {
                "arn": self.arn,
                "dns_name": self.dns_name,
                "url": self.url,
                "target_group_arn": self.target_group_arn,
                "listener_arn": self.listener_arn,
            }
        )

    def _access_logs(self) -> tuple[aws.s3.Bucket, aws.s3.BucketPolicy]:
        """The log bucket, expiring after the retention, writable by ELB log delivery only."""
        name, args, child = self._name, self._args, self._child
        # ALB log delivery supports SSE-S3 only (not SSE-KMS).
        logs = private_bucket(
            f"{name}-access-logs",
            force_destroy=not args.deletion_protection,
            tags=self._tags,
            opts=child,
            owner_enforced=False,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs",
            bucket=logs.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=args.access_log_retention_days
                    ),
                )
            ],
            opts=child,
        )
        elb_account = (
            aws.elb.get_service_account_output().arn
            if args.region in ELB_ACCOUNT_REGIONS
            else pulumi.Output.from_input("")
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-access-logs",
            bucket=logs.id,
            policy=pulumi.Output.all(logs.arn, elb_account).apply(
                lambda a: _log_delivery_policy(a[0], a[1])
            ),
            opts=child,
        )
        return logs, policy

    def _balancer(
        self, logs: aws.s3.Bucket, log_policy: aws.s3.BucketPolicy
    ) -> aws.lb.LoadBalancer:
        args = self._args
        return aws.lb.LoadBalancer(
            f"{self._name}-alb",
            name=fit(self._name, ELB_NAME_LIMIT),
            load_balancer_type="application",
            internal=args.internal,
            subnets=list(args.subnet_ids),
            security_groups=[args.security_group_id],
            enable_http2=True,
            drop_invalid_header_fields=True,
            desync_mitigation_mode="defensive",
            idle_timeout=args.idle_timeout_seconds,
            ip_address_type="ipv4",
            enable_deletion_protection=args.deletion_protection,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(
                bucket=logs.id, prefix="alb", enabled=True
            ),
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_policy]),
        )

    def _target_group(self) -> aws.lb.TargetGroup:
        args = self._args
        return aws.lb.TargetGroup(
            f"{self._name}-app",
            name=fit(f"{self._name}-app", ELB_NAME_LIMIT),
            port=APP_PORT,
            protocol="HTTP",
            target_type="ip",
            vpc_id=args.vpc_id,
            deregistration_delay=args.deregistration_delay_seconds,
            slow_start=args.settings.slow_start_seconds,
            load_balancing_algorithm_type=args.settings.routing_algorithm,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                path=args.health_check_path,
                matcher="200",
                interval=10,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            tags=self._tags,
            opts=self._child,
        )

    def _default_actions(
        self, target_group: aws.lb.TargetGroup
    ) -> list[aws.lb.ListenerDefaultActionArgs]:
        """Forward to the app; behind CloudFront, 403 unless the origin-verify rule matches."""
        if self._args.origin_verify_secret is None:
            return [
                aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)
            ]
        return [
            aws.lb.ListenerDefaultActionArgs(
                type="fixed-response",
                fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
                    content_type="text/plain", message_body="Forbidden", status_code="403"
                ),
            )
        ]

    def _https_listeners(
        self, alb: aws.lb.LoadBalancer, target_group: aws.lb.TargetGroup
    ) -> aws.lb.Listener:
        """HTTPS on the domain (origin.<domain> behind the CDN), HTTP redirected, an alias record."""
        name, args, child = self._name, self._args, self._child
        assert args.domain_name is not None
        domain = args.origin_domain_name or args.domain_name
        certificate_arn = validated_certificate(
            f"{name}-cert", domain, args.hosted_zone_id, parent=self, tags=self._tags
        )
        listener = aws.lb.Listener(
            f"{name}-https",
            load_balancer_arn=alb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=certificate_arn,
            default_actions=self._default_actions(target_group),
            tags=self._tags,
            opts=child,
        )
        aws.lb.Listener(
            f"{name}-http-redirect",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="redirect",
                    redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                        protocol="HTTPS", port="443", status_code="HTTP_301"
                    ),
                )
            ],
            tags=self._tags,
            opts=child,
        )
        aws.route53.Record(
            f"{name}-alias",
            zone_id=args.hosted_zone_id,
            name=domain,
            type="A",
            aliases=[
                aws.route53.RecordAliasArgs(
                    name=alb.dns_name, zone_id=alb.zone_id, evaluate_target_health=True
                )
            ],
            opts=child,
        )
        self.url = pulumi.Output.from_input(f"https://{domain}")
        return listener

    def _http_listener(
        self, alb: aws.lb.LoadBalancer, target_group: aws.lb.TargetGroup
    ) -> aws.lb.Listener:
        self.url = pulumi.Output.concat("http://", alb.dns_name)
        return aws.lb.Listener(
            f"{self._name}-http",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=self._default_actions(target_group),
            tags=self._tags,
            opts=self._child,
        )

    def _origin_verify_rule(
        self,
        listener: aws.lb.Listener,
        target_group: aws.lb.TargetGroup,
        secret: pulumi.Input[str],
    ) -> aws.lb.ListenerRule:
        """Behind CloudFront, only requests carrying the secret header reach the app."""
        return aws.lb.ListenerRule(
            f"{self._name}-origin-verify",
            listener_arn=listener.arn,
            priority=1,
            conditions=[
                aws.lb.ListenerRuleConditionArgs(
                    http_header=aws.lb.ListenerRuleConditionHttpHeaderArgs(
                        http_header_name=ORIGIN_VERIFY_HEADER, values=[secret]
                    ),
                )
            ],
            actions=[
                aws.lb.ListenerRuleActionArgs(type="forward", target_group_arn=target_group.arn)
            ],
            tags=self._tags,
            opts=self._child,
        )


def _log_delivery_policy(bucket_arn: str, account_arn: str) -> str:
    """ELB log delivery may write under alb/ (and the regional ELB account, where one exists)."""
    principal: dict[str, str] = {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    if account_arn:
        principal["AWS"] = account_arn
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AlbAccessLogs",
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Principal": principal,
                    "Resource": f"{bucket_arn}/alb/*",
                }
            ],
        }
    )
