"""Security groups: each tier admits only the tier in front of it, on its one port."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi_aws as aws

import pulumi

APP_PORT = 8000
# The app's second port, /metrics only (METRICS_PORT): open to the VPC for a scraper, never
# a target of the load balancer, so metrics are not public.
METRICS_PORT = 9100
POSTGRES_PORT = 5432
REDIS_PORT = 6379
AMQPS_PORT = 5671
# CloudFront's origin-facing ranges, maintained by AWS as a managed prefix list.
CLOUDFRONT_ORIGIN_FACING = "com.amazonaws.global.cloudfront.origin-facing"


@dataclass(frozen=True)
class SecurityGroupsArgs:
    vpc_id: pulumi.Input[str]
    # When the CDN is on, the ALB admits CloudFront only; otherwise the internet.
    cloudfront_only: bool = True
    # The one port CloudFront uses to reach the ALB: 443 to origin.<domain>, 80 through a VPC
    # origin. A prefix-list reference counts as the list's max entries (55 for CloudFront's)
    # against the 60 inbound rules of a group, so it is referenced once, never per port.
    cloudfront_port: int = 443
    with_broker: bool = True
    # The VPC's range: the only place the service's METRICS_PORT is reachable from.
    vpc_cidr: pulumi.Input[str] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


class SecurityGroups(pulumi.ComponentResource):
    alb_id: pulumi.Output[str]
    service_id: pulumi.Output[str]
    database_id: pulumi.Output[str]
    cache_id: pulumi.Output[str]
    broker_id: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: SecurityGroupsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:security:SecurityGroups", name, None, opts)
        self._child = pulumi.ResourceOptions(parent=self)
        self._name, self._args = name, args
        self._groups: dict[str, aws.ec2.SecurityGroup] = {}

        alb = self._group("alb", "Load balancer: HTTP(S) in, app port out to the service")
        service = self._group("service", "ECS tasks: app port from the load balancer only")
        database = self._group("database", "RDS PostgreSQL: only from the service")
        cache = self._group("cache", "ElastiCache: only from the service")
        broker = (
            self._group("broker", "Amazon MQ RabbitMQ: only from the service")
            if args.with_broker
            else None
        )

        self._load_balancer_ingress()
        if args.vpc_cidr is not None:
            self._ingress(
                "service-metrics-from-vpc",
                service,
                METRICS_PORT,
                cidr_ipv4=args.vpc_cidr,
                description="Prometheus scrapes of /metrics, from inside the VPC only",
            )
        # Tasks reach AWS APIs, ECR and third-party HTTPS through NAT or VPC endpoints.
        self._egress(
            "service-https", service, 443, cidr_ipv4="0.0.0.0/0", description="HTTPS to AWS APIs"
        )
        self._allow(
            "alb",
            "service",
            APP_PORT,
            egress_description="To the service tasks",
            ingress_description="From the load balancer",
        )
        self._allow("service", "database", POSTGRES_PORT, egress_description="PostgreSQL")
        self._allow("service", "cache", REDIS_PORT, egress_description="Valkey/Redis (TLS)")
        if broker is not None:
            self._allow("service", "broker", AMQPS_PORT, egress_description="AMQPS")

        self.alb_id = alb.id
        self.service_id = service.id
        self.database_id = database.id
        self.cache_id = cache.id
        self.broker_id = broker.id if broker is not None else None
        self.register_outputs(
            {
                "alb_id": self.alb_id,
                "service_id": self.service_id,
                "database_id": self.database_id,
                "cache_id": self.cache_id,
                "broker_id": self.broker_id,
            }
        )

    def _group(self, role: str, description: str) -> aws.ec2.SecurityGroup:
        """The tier's group, found again by `role` when rules between tiers are added."""
        # No inline rules: the provider then strips AWS's default allow-all egress,
        # and every rule is a separate, reviewable resource.
        group = aws.ec2.SecurityGroup(
            f"{self._name}-{role}",
            vpc_id=self._args.vpc_id,
            description=description,
            tags={**self._args.tags, "Name": f"{self._name}-{role}"},
            opts=self._child,
        )
        self._groups[role] = group
        return group

    def _load_balancer_ingress(self) -> None:
        """CloudFront's origin-facing servers on one port when the CDN is on, else the internet."""
        args, alb = self._args, self._groups["alb"]
        if args.cloudfront_only:
            prefix_list = aws.ec2.get_managed_prefix_list_output(name=CLOUDFRONT_ORIGIN_FACING)
            self._ingress(
                f"alb-{args.cloudfront_port}-cloudfront",
                alb,
                args.cloudfront_port,
                prefix_list_id=prefix_list.id,
                description="CloudFront origin-facing servers",
            )
            return
        for port in (80, 443):
            # IPv4 only: the VPC has no IPv6 ranges; CloudFront serves IPv6 viewers when the CDN is on.
            self._ingress(
                f"alb-{port}-internet", alb, port, cidr_ipv4="0.0.0.0/0", description="Internet"
            )

    def _allow(
        self,
        source: str,
        target: str,
        port: int,
        *,
        egress_description: str,
        ingress_description: str = "From the service",
    ) -> None:
        """The `source` tier reaches the `target` tier on `port`: an egress and an ingress rule."""
        source_group, target_group = self._groups[source], self._groups[target]
        self._egress(
            f"{source}-to-{target}",
            source_group,
            port,
            referenced=target_group,
            description=egress_description,
        )
        self._ingress(
            f"{target}-from-{source}",
            target_group,
            port,
            referenced=source_group,
            description=ingress_description,
        )

    def _ingress(
        self,
        rule: str,
        sg: aws.ec2.SecurityGroup,
        port: int,
        *,
        description: str,
        referenced: aws.ec2.SecurityGroup | None = None,
        cidr_ipv4: pulumi.Input[str] | None = None,
        cidr_ipv6: str | None = None,
        prefix_list_id: pulumi.Input[str] | None = None,
    ) -> None:
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-{rule}",
            security_group_id=sg.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=referenced.id if referenced is not None else None,
            cidr_ipv4=cidr_ipv4,
            cidr_ipv6=cidr_ipv6,
            prefix_list_id=prefix_list_id,
            description=description,
            opts=self._child,
        )

    def _egress(
        self,
        rule: str,
        sg: aws.ec2.SecurityGroup,
        port: int,
        *,
        description: str,
        referenced: aws.ec2.SecurityGroup | None = None,
        cidr_ipv4: str | None = None,
    ) -> None:
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-{rule}",
            security_group_id=sg.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=referenced.id if referenced is not None else None,
            cidr_ipv4=cidr_ipv4,
            description=description,
            opts=self._child,
        )
