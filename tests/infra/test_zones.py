"""Zones are chosen by AZ ID: standard zones only, and with a CloudFront VPC origin never a
zone the CloudFront guide excludes (use1-az3 in us-east-1, whatever name it has here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from rendered_services import rendered, run_preview
from tenfold_infra.network import NetworkSettings, ZoneChoiceError, choose_zones
from tenfold_infra.policies.edge import VPC_ORIGIN_UNSUPPORTED_ZONE_IDS
from tenfold_infra.preview import availability_zones

STANDARD = [
    {"name": "opt-in-status", "values": ["opt-in-not-required"]},
    {"name": "zone-type", "values": ["availability-zone"]},
]
VPC_ORIGIN = dict.fromkeys(VPC_ORIGIN_UNSUPPORTED_ZONE_IDS, "does not support VPC origins")


def us_east_1(filters: list[dict[str, object]] = STANDARD) -> tuple[list[str], list[str]]:
    zones = availability_zones("us-east-1", filters)
    return zones["names"], zones["zoneIds"]


def test_the_mocks_answer_like_an_account_in_us_east_1() -> None:
    names, ids = us_east_1([])
    assert names[0] == "us-east-1-bos-1a"  # the Local Zone sorts first by name
    assert "use1-az3" in ids[:4]
    names, ids = us_east_1()
    assert "us-east-1-bos-1a" not in names
    assert len(names) == 6


def test_a_vpc_origin_skips_use1_az3_by_id_not_by_name() -> None:
    names, ids = us_east_1()
    chosen = choose_zones(names, ids, NetworkSettings(az_count=3), excluded=VPC_ORIGIN)
    assert [z.zone_id for z in chosen] == ["use1-az4", "use1-az6", "use1-az1"]
    assert [z.name for z in chosen] == ["us-east-1a", "us-east-1b", "us-east-1d"]
    # Without a VPC origin the first three standard zones stay, as before.
    plain = choose_zones(names, ids, NetworkSettings(az_count=3))
    assert [z.name for z in plain] == ["us-east-1a", "us-east-1b", "us-east-1c"]


def test_zones_named_by_the_stack_may_be_names_or_ids() -> None:
    names, ids = us_east_1()
    settings = NetworkSettings(availability_zones=("use1-az1", "us-east-1f"))
    assert [(z.name, z.zone_id) for z in choose_zones(names, ids, settings)] == [
        ("us-east-1d", "use1-az1"),
        ("us-east-1f", "use1-az5"),
    ]


@pytest.mark.parametrize(
    ("settings", "excluded", "phrase"),
    [
        (NetworkSettings(availability_zones=("us-east-1c", "us-east-1d")), VPC_ORIGIN, "use1-az3"),
        (
            NetworkSettings(availability_zones=("us-east-1-bos-1a", "us-east-1a")),
            {},
            "not a standard Availability Zone",
        ),
        (
            NetworkSettings(az_count=3),
            dict.fromkeys(["use1-az1", "use1-az2", "use1-az3", "use1-az4"], "x"),
            "lower azCount",
        ),
    ],
    ids=["named-excluded", "local-zone", "too-few"],
)
def test_bad_zone_choices_say_why(
    settings: NetworkSettings, excluded: dict[str, str], phrase: str
) -> None:
    names, ids = us_east_1()
    with pytest.raises(ZoneChoiceError, match=phrase):
        choose_zones(names, ids, settings, excluded=excluded)


def test_a_us_east_1_stack_with_a_vpc_origin_previews_outside_use1_az3(tmp_path: Path) -> None:
    """The prod stack of the us-east-1 answer set without its domain: CloudFront reaches an
    internal ALB through a VPC origin, so its three zones leave use1-az3 out."""
    infra = rendered("domain-3-replicas").infra
    config = yaml.safe_load((infra / "Pulumi.prod.yaml").read_text())
    config["config"] = {
        k: v for k, v in config["config"].items() if not k.endswith(("domainName", "hostedZoneId"))
    }
    stack_file = infra / "Pulumi.vpcorigin.yaml"
    stack_file.write_text(yaml.safe_dump(config))
    try:
        done = run_preview(infra, "vpcorigin", "--json")
    finally:
        stack_file.unlink()
    assert done.returncode == 0, done.stderr
    preview = json.loads(done.stdout)
    assert any(r["type"] == "aws:cloudfront/vpcOrigin:VpcOrigin" for r in preview["resources"])
    zones = {
        r["inputs"]["availabilityZone"]: r["inputs"]["tags"]["AvailabilityZoneId"]
        for r in preview["resources"]
        if r["type"] == "aws:ec2/subnet:Subnet"
    }
    assert zones == {"us-east-1a": "use1-az4", "us-east-1b": "use1-az6", "us-east-1d": "use1-az1"}
    assert all(p["passed"] for p in preview["policies"])
