"""ElastiCache (Valkey by default): cache entries and refresh tokens, TLS and an auth token."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi_aws as aws

import pulumi

from .knobs import knob, matching, one_of, whole
from .security import REDIS_PORT

PARAMETER_FAMILIES = {"valkey": "valkey8", "redis": "redis7"}
ENGINE_VERSIONS = {"valkey": "8.0", "redis": "7.1"}


@dataclass(frozen=True)
class CacheSettings:
    """The cache knobs of a stack (Pulumi.<stack>.yaml); defaults are prod's."""

    engine: Literal["valkey", "redis"] = knob("cacheEngine", "valkey", one_of("valkey", "redis"))
    node_type: str = knob(
        "cacheNodeType",
        "cache.r7g.large",
        matching(
            r"cache\.[a-z0-9]+\.[a-z0-9]+",
            "must be an ElastiCache node type such as cache.r7g.large",
        ),
        dev="cache.t4g.micro",
    )
    # Primary + replicas; 2 or more turns on automatic failover and Multi-AZ.
    nodes: int = knob("cacheNodes", 2, whole(1, 6), dev=1)


@dataclass(frozen=True)
class CacheArgs:
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    auth_token: pulumi.Input[str]
    settings: CacheSettings = field(default_factory=CacheSettings)
    # volatile-lru evicts only keys with a TTL. Every cache entry and refresh token has one,
    # while job queues (broker=redis) and counters don't: memory pressure drops cache, never jobs.
    maxmemory_policy: str = "volatile-lru"
    snapshot_retention_days: int = 7
    tags: Mapping[str, str] = field(default_factory=dict)


class Cache(pulumi.ComponentResource):
    primary_endpoint: pulumi.Output[str]
    reader_endpoint: pulumi.Output[str]
    port: int
    replication_group_id: str
    member_cluster_ids: list[str]

    def __init__(
        self, name: str, args: CacheArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:cache:Cache", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        highly_available = args.settings.nodes >= 2

        subnet_group = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            description="tenfold cache subnets",
            subnet_ids=list(args.subnet_ids),
            tags=tags,
            opts=child,
        )
        parameters = aws.elasticache.ParameterGroup(
            f"{name}-params",
            family=PARAMETER_FAMILIES[args.settings.engine],
            description="tenfold: cache + sessions",
            parameters=[
                aws.elasticache.ParameterGroupParameterArgs(
                    name="maxmemory-policy", value=args.maxmemory_policy
                )
            ],
            tags=tags,
            opts=child,
        )
        # Explicit id (<= 40 chars): alarms address member clusters as <id>-001, <id>-002...
        self.replication_group_id = name[:40].rstrip("-")
        group = aws.elasticache.ReplicationGroup(
            f"{name}-group",
            replication_group_id=self.replication_group_id,
            description="tenfold cache, sessions and (broker=redis) job queues",
            engine=args.settings.engine,
            engine_version=ENGINE_VERSIONS[args.settings.engine],
            node_type=args.settings.node_type,
            num_cache_clusters=args.settings.nodes,
            port=REDIS_PORT,
            parameter_group_name=parameters.name,
            subnet_group_name=subnet_group.name,
            security_group_ids=[args.security_group_id],
            automatic_failover_enabled=highly_available,
            multi_az_enabled=highly_available,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            at_rest_encryption_enabled=True,
            auth_token=args.auth_token,
            snapshot_retention_limit=args.snapshot_retention_days,
            snapshot_window="01:00-02:00",
            maintenance_window="sun:04:30-sun:05:30",
            auto_minor_version_upgrade=True,
            tags=tags,
            opts=child,
        )
        self.port = REDIS_PORT
        self.primary_endpoint = group.primary_endpoint_address
        self.reader_endpoint = group.reader_endpoint_address
        self.member_cluster_ids = [
            f"{self.replication_group_id}-{i + 1:03d}" for i in range(args.settings.nodes)
        ]
        self.register_outputs(
            {"primary_endpoint": self.primary_endpoint, "reader_endpoint": self.reader_endpoint}
        )

    def url(self, database: int) -> pulumi.Output[str]:
        """rediss:// URL without the token: the service injects REDIS_PASSWORD / BROKER_PASSWORD."""
        return pulumi.Output.concat("rediss://", self.primary_endpoint, f":{self.port}/{database}")
