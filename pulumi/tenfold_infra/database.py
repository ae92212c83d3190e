"""RDS PostgreSQL: a Multi-AZ primary for writes and N read replicas the service spreads reads over."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi_aws as aws

import pulumi

from .security import POSTGRES_PORT


@dataclass(frozen=True)
class DatabaseArgs:
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    instance_class: str = "db.r7g.large"
    read_replicas: int = 1
    replica_instance_class: str | None = (
        None  # defaults to instance_class: a smaller replica lags under load
    )
    engine_version: str = "17"
    database_name: str = "app"
    username: str = "app"
    allocated_storage_gb: int = 50
    # Storage autoscaling ceiling: headroom without paying for it up front.
    max_allocated_storage_gb: int = 500
    storage_type: str = "gp3"
    multi_az: bool = True
    backup_retention_days: int = 14
    deletion_protection: bool = True
    performance_insights_retention_days: int = 7
    enhanced_monitoring_interval_seconds: int = 60
    # Statements slower than this are logged with their plan-relevant text.
    log_min_duration_statement_ms: int = 500
    # A transaction left open holds locks and blocks vacuum; the server ends it after this.
    idle_in_transaction_session_timeout_ms: int = 60_000
    tags: Mapping[str, str] = field(default_factory=dict)


class Database(pulumi.ComponentResource):
    writer_endpoint: pulumi.Output[str]
    reader_endpoints: list[pulumi.Output[str]]
    port: int
    database_name: str
    username: str
    master_user_secret_arn: pulumi.Output[str]
    primary_identifier: pulumi.Output[str]
    replica_identifiers: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:database:Database", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        major = args.engine_version.split(".")[0]

        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets", subnet_ids=list(args.subnet_ids), tags=tags, opts=child
        )
        parameters = aws.rds.ParameterGroup(
            f"{name}-params",
            family=f"postgres{major}",
            description="tenfold: query stats, slow log, SSD costs",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(
                    name="shared_preload_libraries",
                    value="pg_stat_statements",
                    apply_method="pending-reboot",
                ),
                aws.rds.ParameterGroupParameterArgs(name="pg_stat_statements.track", value="top"),
                aws.rds.ParameterGroupParameterArgs(
                    name="log_min_duration_statement", value=str(args.log_min_duration_statement_ms)
                ),
                # gp3 is SSD: random reads cost about as much as sequential ones, so favour index scans.
                aws.rds.ParameterGroupParameterArgs(name="random_page_cost", value="1.1"),
                aws.rds.ParameterGroupParameterArgs(
                    name="idle_in_transaction_session_timeout",
                    value=str(args.idle_in_transaction_session_timeout_ms),
                ),
                aws.rds.ParameterGroupParameterArgs(name="rds.force_ssl", value="1"),
            ],
            tags=tags,
            opts=child,
        )
        monitoring_role = aws.iam.Role(
            f"{name}-monitoring",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"Service": "monitoring.rds.amazonaws.com"},
                        }
                    ],
                }
            ),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-monitoring",
            role=monitoring_role.name,
            policy_arn="arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
            opts=child,
        )
        common: dict[str, Any] = dict(
            storage_type=args.storage_type,
            parameter_group_name=parameters.name,
            vpc_security_group_ids=[args.security_group_id],
            publicly_accessible=False,
            performance_insights_enabled=True,
            performance_insights_retention_period=args.performance_insights_retention_days,
            monitoring_interval=args.enhanced_monitoring_interval_seconds,
            monitoring_role_arn=monitoring_role.arn,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            auto_minor_version_upgrade=True,
            ca_cert_identifier="rds-ca-ecc384-g1",
            copy_tags_to_snapshot=True,
            apply_immediately=False,
        )
        primary = aws.rds.Instance(
            f"{name}-primary",
            engine="postgres",
            engine_version=args.engine_version,
            instance_class=args.instance_class,
            db_name=args.database_name,
            username=args.username,
            manage_master_user_password=True,
            port=POSTGRES_PORT,
            db_subnet_group_name=subnet_group.name,
            allocated_storage=args.allocated_storage_gb,
            max_allocated_storage=args.max_allocated_storage_gb,
            storage_encrypted=True,
            multi_az=args.multi_az,
            backup_retention_period=args.backup_retention_days,
            backup_window="02:00-03:00",
            maintenance_window="sun:03:30-sun:04:30",
            deletion_protection=args.deletion_protection,
            skip_final_snapshot=not args.deletion_protection,
            final_snapshot_identifier=f"{name}-final" if args.deletion_protection else None,
            tags=tags,
            **common,
            opts=child,
        )
        replicas = [
            aws.rds.Instance(
                f"{name}-replica-{i + 1}",
                # Same-region replica: the source identifier is enough; encryption and engine are inherited.
                replicate_source_db=primary.identifier,
                instance_class=args.replica_instance_class or args.instance_class,
                storage_encrypted=True,
                skip_final_snapshot=True,
                deletion_protection=args.deletion_protection,
                tags={**tags, "Role": "read-replica"},
                **common,
                opts=child,
            )
            for i in range(args.read_replicas)
        ]

        self.port = POSTGRES_PORT
        self.database_name = args.database_name
        self.username = args.username
        self.writer_endpoint = primary.address
        self.reader_endpoints = [r.address for r in replicas]
        self.master_user_secret_arn = primary.master_user_secrets[0].secret_arn
        self.primary_identifier = primary.identifier
        self.replica_identifiers = [r.identifier for r in replicas]
        self.register_outputs(
            {
                "writer_endpoint": self.writer_endpoint,
                "reader_endpoints": self.reader_endpoints,
                "master_user_secret_arn": self.master_user_secret_arn,
            }
        )

    def url(self, host: pulumi.Input[str]) -> pulumi.Output[str]:
        """asyncpg URL without the password: the service injects DATABASE_PASSWORD itself."""
        return pulumi.Output.concat(
            "postgresql+asyncpg://", self.username, "@", host, f":{self.port}/{self.database_name}"
        )
