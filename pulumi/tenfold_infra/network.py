"""VPC over 2-3 AZs: public subnets for the ALB and NAT, private subnets for everything else.

Zones are chosen by AZ ID, not by name: a name such as us-east-1c maps to a different
physical zone in each account, and some zone IDs cannot host what the stack puts there
(CloudFront VPC origins skip use1-az3, for one). Only standard Availability Zones that need
no opt-in are used, never Local or Wavelength Zones. Each subnet carries its zone ID as the
tag AvailabilityZoneId, which the policy availability-zones-by-id reads.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi_aws as aws

import pulumi

from .knobs import knob, one_of, text_list, whole

# The subnet tag holding the zone's AZ ID (use1-az1): names differ per account, IDs do not.
ZONE_ID_TAG = "AvailabilityZoneId"
# DescribeAvailabilityZones filters for standard zones that need no opt-in (no Local Zones,
# no Wavelength Zones): https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeAvailabilityZones.html
STANDARD_ZONE_FILTERS = {"opt-in-status": "opt-in-not-required", "zone-type": "availability-zone"}


class ZoneChoiceError(ValueError):
    """The region (or the zones the stack names) cannot give the zones the stack needs."""


@dataclass(frozen=True)
class Zone:
    name: str
    zone_id: str


def choose_zones(
    names: Sequence[str],
    zone_ids: Sequence[str],
    settings: NetworkSettings,
    *,
    excluded: Mapping[str, str] | None = None,
) -> tuple[Zone, ...]:
    """The stack's zones among the region's standard ones (`names` and `zone_ids` as
    DescribeAvailabilityZones pairs them): the ones `availabilityZones` names (by name or AZ
    ID), else the first `azCount` in name order. `excluded` maps zone IDs that cannot be
    used to the reason why."""
    excluded = excluded or {}
    region_zones = [Zone(n, i) for n, i in zip(names, zone_ids, strict=True)]
    listing = ", ".join(f"{z.name} ({z.zone_id})" for z in region_zones)
    if settings.availability_zones:
        chosen = []
        for wanted in settings.availability_zones:
            found = [z for z in region_zones if wanted in (z.name, z.zone_id)]
            if not found:
                raise ZoneChoiceError(
                    f"availabilityZones: {wanted} is not a standard Availability Zone of this "
                    f"region available to the account (no Local or Wavelength Zones); choose "
                    f"among {listing}"
                )
            if found[0].zone_id in excluded:
                raise ZoneChoiceError(
                    f"availabilityZones: {wanted} is zone {found[0].zone_id}, which "
                    f"{excluded[found[0].zone_id]}; choose another zone"
                )
            chosen.append(found[0])
        return tuple(chosen)
    usable = [z for z in region_zones if z.zone_id not in excluded]
    if len(usable) < settings.az_count:
        skipped = "".join(
            f"; {z.name} ({z.zone_id}) {excluded[z.zone_id]}"
            for z in region_zones
            if z.zone_id in excluded
        )
        raise ZoneChoiceError(
            f"azCount is {settings.az_count}, but the region has {len(usable)} usable standard "
            f"Availability Zones ({listing}{skipped}); lower azCount"
        )
    return tuple(usable[: settings.az_count])


@dataclass(frozen=True)
class NetworkSettings:
    """The network knobs of a stack (Pulumi.<stack>.yaml); defaults are prod's."""

    az_count: int = knob("azCount", 3, whole(2, 3), dev=2)
    # Named zones (names or AZ IDs) instead of the region's first az_count standard ones.
    availability_zones: tuple[str, ...] | None = knob(
        "availabilityZones",
        None,
        text_list(
            2,
            3,
            "must be a list of 2 or 3 zone names or AZ IDs such as [eu-west-1a, eu-west-1b] "
            "or [euw1-az1, euw1-az2]",
        ),
    )
    # One NAT per AZ keeps an AZ outage from cutting egress of the others; dev shares one.
    nat_gateways: Literal["single", "per-az"] = knob(
        "natGateways", "per-az", one_of("single", "per-az"), dev="single"
    )

    @property
    def zone_count(self) -> int:
        return len(self.availability_zones) if self.availability_zones else self.az_count


@dataclass(frozen=True)
class NetworkArgs:
    region: str
    availability_zones: Sequence[Zone]
    cidr_block: str = "10.0.0.0/16"
    settings: NetworkSettings = field(default_factory=NetworkSettings)
    # Gateway endpoint for S3 is free; interface endpoints keep image pulls, logs and
    # secret reads off the NAT (cheaper per GB, and they keep working if NAT is impaired).
    interface_endpoints: Sequence[str] = ("ecr.api", "ecr.dkr", "logs", "secretsmanager")
    tags: Mapping[str, str] = field(default_factory=dict)


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    cidr_block: str
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:network:Network", name, None, opts)
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)
        self._tags = dict(args.tags)
        self._zones = [zone.name for zone in args.availability_zones]
        self._zone_ids = [zone.zone_id for zone in args.availability_zones]

        vpc = self._vpc()
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=self._tags, opts=self._child
        )
        public, private = self._subnets(vpc, self._public_route_table(vpc, igw))
        nats = self._nat_gateways(public, igw)
        private_route_tables = self._private_route_tables(vpc, private, nats)
        self._s3_gateway_endpoint(vpc, private_route_tables)
        self._interface_endpoints(vpc, private)

        self.vpc_id = vpc.id
        self.cidr_block = args.cidr_block
        self.public_subnet_ids = [s.id for s in public]
        self.private_subnet_ids = [s.id for s in private]
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )

    def _vpc(self) -> aws.ec2.Vpc:
        """DNS support and hostnames on: the interface endpoints' private DNS needs both."""
        return aws.ec2.Vpc(
            f"{self._name}-vpc",
            cidr_block=self._args.cidr_block,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**self._tags, "Name": f"{self._name}-vpc"},
            opts=self._child,
        )

    def _public_route_table(
        self, vpc: aws.ec2.Vpc, igw: aws.ec2.InternetGateway
    ) -> aws.ec2.RouteTable:
        """One table for every public subnet: the internet through the gateway."""
        return aws.ec2.RouteTable(
            f"{self._name}-public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={**self._tags, "Name": f"{self._name}-public"},
            opts=self._child,
        )

    def _subnets(
        self, vpc: aws.ec2.Vpc, public_route_table: aws.ec2.RouteTable
    ) -> tuple[list[aws.ec2.Subnet], list[aws.ec2.Subnet]]:
        """A public and a private subnet per zone; private /20s start at the ninth."""
        name, tags = self._name, self._tags
        # /20 per subnet: 4094 addresses, room for Fargate tasks (one ENI each) at scale.
        cidrs = list(ipaddress.ip_network(self._args.cidr_block).subnets(new_prefix=20))
        public: list[aws.ec2.Subnet] = []
        private: list[aws.ec2.Subnet] = []
        for i, az in enumerate(self._zones):
            pub = aws.ec2.Subnet(
                f"{name}-public-{i + 1}",
                vpc_id=vpc.id,
                availability_zone=az,
                cidr_block=str(cidrs[i]),
                map_public_ip_on_launch=False,
                tags={
                    **tags,
                    "Name": f"{name}-public-{az}",
                    "Tier": "public",
                    ZONE_ID_TAG: self._zone_ids[i],
                },
                opts=self._child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{i + 1}",
                subnet_id=pub.id,
                route_table_id=public_route_table.id,
                opts=self._child,
            )
            priv = aws.ec2.Subnet(
                f"{name}-private-{i + 1}",
                vpc_id=vpc.id,
                availability_zone=az,
                cidr_block=str(cidrs[8 + i]),
                tags={
                    **tags,
                    "Name": f"{name}-private-{az}",
                    "Tier": "private",
                    ZONE_ID_TAG: self._zone_ids[i],
                },
                opts=self._child,
            )
            public.append(pub)
            private.append(priv)
        return public, private

    def _nat_gateways(
        self, public: list[aws.ec2.Subnet], igw: aws.ec2.InternetGateway
    ) -> list[aws.ec2.NatGateway]:
        """One NAT per zone, or a single shared one (`natGateways`), each with its Elastic IP."""
        name, tags = self._name, self._tags
        count = len(self._zones) if self._args.settings.nat_gateways == "per-az" else 1
        nats = []
        for i in range(count):
            eip = aws.ec2.Eip(f"{name}-nat-{i + 1}", domain="vpc", tags=tags, opts=self._child)
            nats.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i + 1}",
                    allocation_id=eip.id,
                    subnet_id=public[i].id,
                    tags={**tags, "Name": f"{name}-nat-{self._zones[i]}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                )
            )
        return nats

    def _private_route_tables(
        self,
        vpc: aws.ec2.Vpc,
        private: list[aws.ec2.Subnet],
        nats: list[aws.ec2.NatGateway],
    ) -> list[aws.ec2.RouteTable]:
        """A table per private subnet, egress through its zone's NAT (or the shared one)."""
        name, tags = self._name, self._tags
        tables = []
        for i, priv in enumerate(private):
            table = aws.ec2.RouteTable(
                f"{name}-private-{i + 1}",
                vpc_id=vpc.id,
                routes=[
                    aws.ec2.RouteTableRouteArgs(
                        cidr_block="0.0.0.0/0", nat_gateway_id=nats[i % len(nats)].id
                    )
                ],
                tags={**tags, "Name": f"{name}-private-{self._zones[i]}"},
                opts=self._child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{i + 1}",
                subnet_id=priv.id,
                route_table_id=table.id,
                opts=self._child,
            )
            tables.append(table)
        return tables

    def _s3_gateway_endpoint(
        self, vpc: aws.ec2.Vpc, private_route_tables: list[aws.ec2.RouteTable]
    ) -> None:
        """S3 through the private route tables: free, and off the NAT."""
        aws.ec2.VpcEndpoint(
            f"{self._name}-s3",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{self._args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[table.id for table in private_route_tables],
            tags=self._tags,
            opts=self._child,
        )

    def _interface_endpoints(self, vpc: aws.ec2.Vpc, private: list[aws.ec2.Subnet]) -> None:
        """`interface_endpoints` in the private subnets, behind a group admitting VPC HTTPS."""
        name, args, tags = self._name, self._args, self._tags
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints",
            vpc_id=vpc.id,
            description="HTTPS from inside the VPC to AWS interface endpoints",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=[args.cidr_block],
                    description="HTTPS from the VPC",
                )
            ],
            tags=tags,
            opts=self._child,
        )
        for service in args.interface_endpoints:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=f"com.amazonaws.{args.region}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in private],
                security_group_ids=[endpoint_sg.id],
                tags=tags,
                opts=self._child,
            )
