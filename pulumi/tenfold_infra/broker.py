"""Amazon MQ for RabbitMQ 4: durable (quorum) job queues, always TLS (amqps on 5671).

RabbitMQ 4.2 is the version AWS recommends; its default queue type is quorum, which
replicates through Raft instead of the classic mirroring 3.13 used, and the app declares its
queues as quorum explicitly. Amazon MQ runs RabbitMQ 4 on mq.m7g instances only
(https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/rabbitmq-version-management.html).

The broker's general log goes to /aws/amazonmq/broker/<broker id>/general, a group Amazon MQ
creates itself: its name holds the id AWS assigns at creation, so the stack cannot create it
first. `broker_id` is exported so the deploy guide can set its retention once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi_aws as aws

import pulumi

from .knobs import Check, Refused, knob, one_of


def _rabbitmq_4_instance() -> Check:
    def parse(text: str) -> str:
        if not re.fullmatch(r"mq\.[a-z0-9]+\.[a-z0-9]+", text):
            raise ValueError
        if not text.startswith("mq.m7g."):
            raise Refused(
                "must be an mq.m7g instance type such as mq.m7g.medium or mq.m7g.large "
                "(Amazon MQ runs RabbitMQ 4 on mq.m7g only)"
            )
        return text

    return Check("must be an Amazon MQ instance type such as mq.m7g.large", parse)


@dataclass(frozen=True)
class BrokerSettings:
    """The Amazon MQ knobs of a stack (Pulumi.<stack>.yaml); defaults are prod's."""

    # A three-node cluster across AZs survives a node or AZ loss; SINGLE_INSTANCE suits dev.
    deployment_mode: Literal["SINGLE_INSTANCE", "CLUSTER_MULTI_AZ"] = knob(
        "brokerDeployment",
        "CLUSTER_MULTI_AZ",
        one_of("SINGLE_INSTANCE", "CLUSTER_MULTI_AZ"),
        dev="SINGLE_INSTANCE",
    )
    # The smallest instance RabbitMQ 4 runs on is mq.m7g.medium (mq.t3.micro is RabbitMQ 3 only).
    host_instance_type: str = knob(
        "brokerInstanceType", "mq.m7g.large", _rabbitmq_4_instance(), dev="mq.m7g.medium"
    )


@dataclass(frozen=True)
class BrokerArgs:
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    password: pulumi.Input[str]
    username: str = "app"
    settings: BrokerSettings = field(default_factory=BrokerSettings)
    engine_version: str = "4.2"
    tags: Mapping[str, str] = field(default_factory=dict)


class Broker(pulumi.ComponentResource):
    amqps_endpoint: pulumi.Output[str]
    broker_name: pulumi.Output[str]
    broker_id: pulumi.Output[str]
    username: str

    def __init__(
        self, name: str, args: BrokerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:broker:Broker", name, None, opts)
        subnets = list(args.subnet_ids)
        broker = aws.mq.Broker(
            f"{name}-rabbitmq",
            broker_name=name,
            engine_type="RabbitMQ",
            engine_version=args.engine_version,
            host_instance_type=args.settings.host_instance_type,
            deployment_mode=args.settings.deployment_mode,
            # A single instance lives in exactly one subnet; a cluster spreads over them.
            subnet_ids=subnets[:1]
            if args.settings.deployment_mode == "SINGLE_INSTANCE"
            else subnets,
            security_groups=[args.security_group_id],
            publicly_accessible=False,
            # Required from RabbitMQ 3.13 on: AWS applies patch versions in the maintenance window.
            auto_minor_version_upgrade=True,
            encryption_options=aws.mq.BrokerEncryptionOptionsArgs(use_aws_owned_key=True),
            logs=aws.mq.BrokerLogsArgs(general=True),
            maintenance_window_start_time=aws.mq.BrokerMaintenanceWindowStartTimeArgs(
                day_of_week="SUNDAY", time_of_day="05:00", time_zone="UTC"
            ),
            users=[aws.mq.BrokerUserArgs(username=args.username, password=args.password)],
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.username = args.username
        self.broker_name = broker.broker_name
        self.broker_id = broker.id
        self.amqps_endpoint = broker.instances[0].endpoints[0]
        self.register_outputs({"amqps_endpoint": self.amqps_endpoint})

    def url(self) -> pulumi.Output[str]:
        """amqps://user@host:5671 without the password: the service injects BROKER_PASSWORD."""
        return self.amqps_endpoint.apply(
            lambda e: e.replace("amqps://", f"amqps://{self.username}@", 1)
        )
