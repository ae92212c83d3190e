"""A wrong stack config fails at once, naming the key and what is allowed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from rendered_services import Rendered, run_preview
from tenfold_infra.config import ConfigError, parse_config

VALID = {"tier": "prod", "image": "registry.example.com/app:1", "alarmEmail": "ops@example.com"}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("tier", "staging", "demo:tier must be one of dev, prod, got 'staging'"),
        ("readReplicas", "9", "demo:readReplicas must be a whole number from 0 to 5, got '9'"),
        ("readReplicas", "two", "demo:readReplicas must be a whole number from 0 to 5, got 'two'"),
        ("cdn", "yes", "demo:cdn must be true or false, got 'yes'"),
        ("broker", "kafka", "demo:broker must be one of rabbitmq, redis, got 'kafka'"),
        ("appCpu", "300", "demo:appCpu must be one of 256, 512, 1024, 2048, 4096, got '300'"),
        (
            "dbInstanceClass",
            "r7g.large",
            "demo:dbInstanceClass must be an RDS instance class such as db.r7g.large",
        ),
        ("domainName", "https://api.example.com", "demo:domainName must be a hostname"),
        ("logRetentionDays", "10", "demo:logRetentionDays must be one of 1, 3, 5, 7, 14"),
        (
            "albSlowStartSeconds",
            "30",
            "demo:albSlowStartSeconds must be 0 unless albRoutingAlgorithm is round_robin",
        ),
        ("namePrefix", "Demo-prod", "demo:namePrefix must be at most 28 lowercase letters"),
        ("namePrefix", "d" * 29, "demo:namePrefix must be at most 28 lowercase letters"),
        ("namePrefix", "demo--prod", "demo:namePrefix must be at most 28 lowercase letters"),
        ("availabilityZones", '["eu-west-1a"]', "demo:availabilityZones must be a list of 2"),
    ],
)
def test_bad_value_names_the_key(key: str, value: str, message: str) -> None:
    with pytest.raises(
        ConfigError,
        match="^" + re.escape(message),
    ):
        parse_config("demo", "prod", {**VALID, key: value}, "eu-west-1")


def test_a_stack_may_keep_the_names_it_was_deployed_with() -> None:
    """namePrefix pins the prefix (docs/update.md: slugs whose names changed)."""
    project = "order-fulfilment-and-settlement-platform"
    default = parse_config(project, "prod", VALID, "eu-west-1")
    assert default.name != f"{project}-prod"[:28]
    pinned = parse_config(
        project, "prod", {**VALID, "namePrefix": f"{project}-prod"[:28]}, "eu-west-1"
    )
    assert pinned.name == "order-fulfilment-and-settlem"


def test_a_vpc_origin_where_cloudfront_has_none_is_refused() -> None:
    """CloudFront offers VPC origins in the Regions its guide lists; ap-southeast-6 is not one."""
    with pytest.raises(
        ConfigError, match=r"^demo:cdn is true without demo:domainName.*ap-southeast-6"
    ):
        parse_config("demo", "prod", VALID, "ap-southeast-6")
    assert parse_config("demo", "prod", {**VALID, "cdn": "false"}, "ap-southeast-6").region


def test_missing_values_are_named() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^demo:alarmEmail is required in prod: .*`pulumi config set alarmEmail you@example.com`",
    ):
        parse_config("demo", "prod", {"tier": "prod"}, "eu-west-1")
    with pytest.raises(ConfigError, match=r"^aws:region is required"):
        parse_config("demo", "prod", VALID, None)
    with pytest.raises(
        ConfigError, match=r"^demo:hostedZoneId is required when demo:domainName is set"
    ):
        parse_config("demo", "prod", {**VALID, "domainName": "api.example.com"}, "eu-west-1")


@pytest.mark.parametrize(
    "image",
    [
        "ghcr.io/acme/app:latest",
        "ghcr.io/acme/app",
        "registry.example.com:5000/app",
        "app@sha256:abc",
    ],
)
def test_image_must_name_one_build(image: str) -> None:
    with pytest.raises(ConfigError, match=r"^demo:image must "):
        parse_config("demo", "prod", {**VALID, "image": image}, "eu-west-1")


@pytest.mark.parametrize(
    "image",
    [
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1.4.2",
        "registry.example.com:5000/app:2024-06-01",
        "ghcr.io/acme/app@sha256:" + "0" * 64,
    ],
)
def test_prebuilt_image_is_deployed_as_given(image: str) -> None:
    assert parse_config("demo", "prod", {**VALID, "image": image}, "eu-west-1").image == image


def test_no_image_means_build_and_push() -> None:
    config = {k: v for k, v in VALID.items() if k != "image"}
    assert parse_config("demo", "prod", config, "eu-west-1").image is None


def test_dev_needs_no_alarm_email() -> None:
    assert parse_config("demo", "dev", {"tier": "dev"}, "eu-west-1").alarm_email is None


@pytest.mark.parametrize("instance", ["mq.t3.micro", "mq.m5.large"])
def test_broker_instance_runs_rabbitmq_4(instance: str) -> None:
    with pytest.raises(ConfigError, match=r"^demo:brokerInstanceType must be an mq.m7g instance"):
        parse_config(
            "demo",
            "dev",
            {"tier": "dev", "brokerInstanceType": instance, "brokerDeployment": "SINGLE_INSTANCE"},
            "eu-west-1",
        )


def test_tier_defaults() -> None:
    prod = parse_config("demo", "prod", VALID, "eu-west-1")
    dev = parse_config("demo", "dev", {**VALID, "tier": "dev"}, "eu-west-1")
    assert dev.amazon_mq.host_instance_type == "mq.m7g.medium"
    assert (
        prod.database.multi_az,
        prod.network.nat_gateways,
        prod.cache.nodes,
        prod.network.zone_count,
    ) == (True, "per-az", 2, 3)
    assert (
        dev.database.multi_az,
        dev.network.nat_gateways,
        dev.cache.nodes,
        dev.database.read_replicas,
    ) == (False, "single", 1, 0)


def broken_copy(service: Rendered, tmp_path: Path, old: str, new: str) -> Path:
    infra = tmp_path / "infra"
    shutil.copytree(service.infra, infra)
    # The program reads the app's body limit from ../app/settings.py.
    (tmp_path / "app").mkdir()
    shutil.copy(service.root / "app" / "settings.py", tmp_path / "app" / "settings.py")
    stack_file = infra / "Pulumi.prod.yaml"
    text = stack_file.read_text()
    assert old in text
    stack_file.write_text(text.replace(old, new))
    return infra


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "demo-service:readReplicas: 1",
            "demo-service:readReplicas: 7",
            "demo-service:readReplicas must be a whole number from 0 to 5, got '7'",
        ),
        (
            "demo-service:readReplicas: 1",
            "demo-service:readReplica: 1",
            "demo-service:readReplica is not a known setting",
        ),
        (
            "demo-service:readReplicas: 1",
            "demo-service:readReplicas: 1\n  demo-service:cacheNodes: lots",
            "demo-service:cacheNodes must be a whole number from 1 to 6, got 'lots'",
        ),
    ],
)
def test_preview_rejects_bad_stack_file(
    default_service: Rendered, tmp_path: Path, old: str, new: str, message: str
) -> None:
    done = run_preview(broken_copy(default_service, tmp_path, old, new), "prod", "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(f"error: invalid stack config: {message}")


def test_preview_fails_when_a_policy_fails(default_service: Rendered, tmp_path: Path) -> None:
    # Valid config, but a prod stack without Multi-AZ breaks the production-resilience policy.
    infra = broken_copy(
        default_service,
        tmp_path,
        "demo-service:readReplicas: 1",
        "demo-service:readReplicas: 1\n  demo-service:dbMultiAz: false",
    )
    done = run_preview(infra, "prod")
    assert done.returncode == 1
    assert "FAIL production-resilience" in done.stdout
    assert "multiAz must be true in prod" in done.stdout
    assert "policy check failed: production-resilience" in done.stderr


def test_prod_without_alarm_email_names_the_key(default_service: Rendered, tmp_path: Path) -> None:
    infra = broken_copy(
        default_service,
        tmp_path,
        "demo-service:alarmEmail: oncall@example.com",
        "# no alarm address",
    )
    done = run_preview(infra, "prod", "--json")
    assert done.returncode == 2
    assert "demo-service:alarmEmail is required in prod" in done.stderr
    assert "pulumi config set alarmEmail you@example.com" in done.stderr


def test_latest_image_is_refused(default_service: Rendered, tmp_path: Path) -> None:
    infra = broken_copy(
        default_service,
        tmp_path,
        "demo-service:alarmEmail: oncall@example.com",
        "demo-service:alarmEmail: oncall@example.com\n  demo-service:image: ghcr.io/acme/app:latest",
    )
    done = run_preview(infra, "prod", "--json")
    assert done.returncode == 2
    assert done.stderr.startswith(
        "error: invalid stack config: demo-service:image must name one build"
    )


def test_unknown_stack_lists_the_stacks(default_service: Rendered) -> None:
    done = run_preview(default_service.infra, "staging")
    assert done.returncode == 2
    assert "choose one of dev, prod" in done.stderr
