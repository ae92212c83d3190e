"""The stack config: typed, validated at once, every error naming the key and what is allowed.

Keys live in the project's namespace of Pulumi.<stack>.yaml (`<project>:readReplicas: 2`,
or `pulumi config set readReplicas 2`). `tier` picks the defaults: dev is small and cheap,
prod is highly available; any key set in the file overrides the tier's default.

Each default is written once, on its knob (knobs.py): the stack-wide ones on StackConfig
below, the others on the settings class of the component they tune (DatabaseSettings in
database.py, ...). The stack files carry only the copier answers and the user's choices.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Literal, TypeVar

import pulumi

from .broker import BrokerSettings
from .cache import CacheSettings
from .database import DatabaseSettings
from .knobs import (
    SAME_AS_PROD,
    Check,
    KnobError,
    Refused,
    flag,
    knob,
    knobs_of,
    matching,
    one_of,
    whole,
)
from .load_balancer import LoadBalancerSettings
from .names import fit
from .network import NetworkSettings
from .policies.edge import VPC_ORIGIN_REGIONS, VPC_ORIGINS_DOC
from .service import ServiceSettings

Tier = Literal["dev", "prod"]
S = TypeVar("S")

LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


# Short enough for `<prefix>-alb` in an ALB's 32 characters and `<prefix>-<role>-<7>` in an
# IAM role's 64, so every name still starts with the prefix the deploy role is scoped to.
PREFIX_LIMIT = 28


class ConfigError(ValueError):
    """A stack config value is missing or not allowed; the message names the key."""


def _image() -> Check:
    """A prebuilt image must name one build: a tag other than latest, or a digest."""

    def parse(image: str) -> str:
        repository, _, tag = image.rpartition("/")[2].partition(":")
        digest = re.fullmatch(r"[^@\s]+@sha256:[0-9a-f]{64}", image)
        if "@" in image and not digest:
            raise Refused("must end in a digest such as @sha256:<64 hex digits>")
        if not digest and (not tag or tag == "latest" or not repository or " " in image):
            raise ValueError
        return image

    return Check(
        "must name one build, with a tag other than latest (such as "
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1.4.2) or a digest "
        "(app@sha256:...); leave it unset to build ../Dockerfile and push it to ECR",
        parse,
    )


def _usd_a_month() -> Check:
    def parse(text: str) -> float:
        usd = float(text)
        if not (usd > 0 and math.isfinite(usd)):
            raise ValueError
        return usd

    return Check("must be a positive number of USD a month, such as 2500", parse)


@dataclass(frozen=True)
class StackConfig:
    """Everything a stack deploys: the stack-wide knobs here, each component's in its settings."""

    project: str
    stack: str
    tier: Tier
    region: str
    # None: `pulumi up` builds ../Dockerfile and pushes it to the stack's ECR repository.
    image: str | None = knob(
        "image", None, _image(), doc="a prebuilt image to run; unset: built by `pulumi up`"
    )
    cdn: bool = knob("cdn", True, flag())
    broker: Literal["rabbitmq", "redis"] = knob("broker", "rabbitmq", one_of("rabbitmq", "redis"))
    domain_name: str | None = knob(
        "domainName",
        None,
        matching(
            r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
            "must be a hostname such as api.example.com (no scheme, no trailing dot)",
        ),
    )
    hosted_zone_id: str | None = knob(
        "hostedZoneId",
        None,
        matching(
            r"Z[A-Z0-9]{1,31}", "must be a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ"
        ),
        doc="Route 53 zone id; required with domainName",
    )
    # Keeps the database, the load balancer and the buckets from `pulumi destroy`.
    deletion_protection: bool = knob("deletionProtection", True, flag(), dev=False)
    log_retention_days: int = knob(
        "logRetentionDays",
        30,
        whole(1, 3653, LOG_RETENTION_DAYS),
        dev=7,
        doc="a CloudWatch retention (1, 3, 5, 7, 14, 30, ... 3653)",
    )
    # Required in prod (the alarms must reach a person); optional in dev.
    alarm_email: str | None = knob(
        "alarmEmail", None, matching(r"[^@\s]+@[^@\s]+\.[^@\s]+", "must be an email address")
    )
    # A cost cap over the whole stack: the offline preview fails when its estimate exceeds it
    # (policies/budget.py). Unset: no cap.
    monthly_budget_usd: float | None = knob(
        "monthlyBudget",
        None,
        _usd_a_month(),
        doc="USD a month; the preview fails when the [cost estimate](cost-and-capacity.md) "
        "exceeds it",
    )
    # Keeps the names a stack was first deployed with when the naming rule changed (slugs
    # over 23 characters: docs/update.md). Unset: resource_prefix(project, stack).
    name_prefix: str | None = knob(
        "namePrefix",
        None,
        matching(
            r"[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,27}",
            f"must be at most {PREFIX_LIMIT} lowercase letters, digits and single '-', "
            "starting with a letter, such as orders-prod",
        ),
        doc="the prefix of the stack's AWS names; unset: `<project>-<stack>`, or its head "
        "and a hash past 28 characters",
    )
    network: NetworkSettings = field(default_factory=NetworkSettings)
    load_balancer: LoadBalancerSettings = field(default_factory=LoadBalancerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    amazon_mq: BrokerSettings = field(default_factory=BrokerSettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)

    @property
    def name(self) -> str:
        """Prefix of every AWS name: <project>-<stack>, short enough for ALB/ElastiCache limits."""
        return self.name_prefix or resource_prefix(self.project, self.stack)


# Every settings class a stack reads, by the StackConfig field that holds it.
COMPONENT_SETTINGS: dict[str, type] = {
    "network": NetworkSettings,
    "load_balancer": LoadBalancerSettings,
    "database": DatabaseSettings,
    "cache": CacheSettings,
    "amazon_mq": BrokerSettings,
    "service": ServiceSettings,
}
KEYS = (
    "tier",
    *(k.key for _, k, _ in knobs_of(StackConfig)),
    *(k.key for settings in COMPONENT_SETTINGS.values() for _, k, _ in knobs_of(settings)),
)


def resource_prefix(project: str, stack: str) -> str:
    """The stack's name prefix: `<project>-<stack>` when it fits (28 characters), else its
    head plus a hash of the whole, so two stacks of one project never share a name (the
    bootstrap's deploy role scopes IAM, logs, buckets and secrets to it)."""
    return fit(f"{project}-{stack}", PREFIX_LIMIT)


def tier_defaults(settings: type, tier: str) -> dict[str, object]:
    """{stack key: the tier's default} of one settings class (None: no default, unset)."""
    return {
        setting.key: prod if tier == "prod" or setting.dev is SAME_AS_PROD else setting.dev
        for _, setting, prod in knobs_of(settings)
    }


def read_settings(
    settings: type[S], namespace: str, raw: Mapping[str, str], for_tier: str, **given: object
) -> S:
    """One settings class from the stack's raw values: a set key wins, else the tier's default."""
    values: dict[str, object] = dict(given)
    for field_name, setting, _ in knobs_of(settings):
        text = raw.get(setting.key)
        if text is None or (text == "" and _optional(settings, field_name)):
            if for_tier == "dev" and setting.dev is not SAME_AS_PROD:
                values[field_name] = setting.dev
            continue
        try:
            values[field_name] = setting.check.parse(text)
        except Refused as refused:
            raise ConfigError(f"{namespace}:{setting.key} {refused}, got {text!r}") from None
        except (ValueError, TypeError):
            raise ConfigError(
                f"{namespace}:{setting.key} {setting.check.allowed}, got {text!r}"
            ) from None
    try:
        return settings(**values)
    except KnobError as error:
        raise ConfigError(f"{namespace}:{error}") from None


def _optional(settings: type, field_name: str) -> bool:
    """An optional text knob (default None) left empty is unset, as `pulumi config set k ""` means."""
    return {f.name: f.default for f in fields(settings)}[field_name] is None


def parse_config(
    project: str,
    stack: str,
    raw: Mapping[str, str],
    region: str | None,
    *,
    check_required: bool = True,
) -> StackConfig:
    """Validate raw string values (as Pulumi stores them) into a StackConfig.

    `check_required=False` leaves the keys the tier requires to the caller
    (missing_required): the offline preview shows the plan before it reports them.
    """
    tier_name = raw.get("tier")
    if tier_name not in ("dev", "prod"):
        allowed = "must be one of dev, prod"
        raise ConfigError(
            f"{project}:tier is required: it {allowed} (set it in the stack's Pulumi.<stack>.yaml)"
            if tier_name is None
            else f"{project}:tier {allowed}, got {tier_name!r}"
        )
    if not region:
        raise ConfigError(
            "aws:region is required: set it to the AWS region to deploy to, such as eu-west-1"
        )
    components: dict[str, object] = {
        name: read_settings(settings, project, raw, tier_name)
        for name, settings in COMPONENT_SETTINGS.items()
    }
    config = read_settings(
        StackConfig,
        project,
        raw,
        tier_name,
        project=project,
        stack=stack,
        tier=tier_name,
        region=region,
        **components,
    )
    if config.domain_name and not config.hosted_zone_id:
        raise ConfigError(
            f"{project}:hostedZoneId is required when {project}:domainName is set: "
            "the TLS certificate is validated in that zone"
        )
    if config.cdn and not config.domain_name and region not in VPC_ORIGIN_REGIONS:
        raise ConfigError(
            f"{project}:cdn is true without {project}:domainName, so CloudFront would reach "
            f"the load balancer through a VPC origin, which CloudFront does not offer in "
            f"{region} ({VPC_ORIGINS_DOC}): set domainName and hostedZoneId (CloudFront then "
            "reaches the ALB over HTTPS), or set cdn to false"
        )
    if check_required and (missing := missing_required(config)):
        raise ConfigError(missing[0])
    if not config.domain_name and config.hosted_zone_id:
        config = replace(config, hosted_zone_id=None)
    return config


def missing_required(config: StackConfig) -> list[str]:
    """The keys the stack's tier requires but leaves unset, each as the error that names it.

    Kept apart from the value checks: a stack missing only these still builds (without what
    they add, such as the alarm subscription), so the offline preview can show its plan
    first; `pulumi up` refuses them at once.
    """
    if config.tier == "prod" and not config.alarm_email:
        return [
            f"{config.project}:alarmEmail is required in prod: the alarms must reach a person. "
            "Run `pulumi config set alarmEmail you@example.com` (AWS sends a confirmation "
            "mail to accept)"
        ]
    return []


def keys_table() -> str:
    """The docs' table of stack keys, written from the knobs themselves (never by hand)."""

    def shown(value: object) -> str:
        if value is None:
            return "none"
        if isinstance(value, bool):
            return f"`{str(value).lower()}`"
        if isinstance(value, tuple):
            return "first available"
        return f"`{value}`"

    rows = [
        "| key | values | dev default | prod default |",
        "| --- | --- | --- | --- |",
        "| `tier` | `dev`, `prod` (required) | | |",
    ]
    for settings in (StackConfig, *COMPONENT_SETTINGS.values()):
        for _, setting, prod in knobs_of(settings):
            dev = prod if setting.dev is SAME_AS_PROD else setting.dev
            values = setting.doc.removeprefix("must be ")
            rows.append(f"| `{setting.key}` | {values} | {shown(dev)} | {shown(prod)} |")
    return "\n".join(rows) + "\n"


def load_config(*, check_required: bool = True) -> StackConfig:
    """Read the running stack's config (works under `pulumi up` and under the offline preview's mocks).

    `pulumi up` checks every required key here, before any resource exists; the preview
    passes `check_required=False` and reports what is missing after the plan.
    """
    project, stack = pulumi.get_project(), pulumi.get_stack()
    config = pulumi.Config()
    raw = {key: value for key in KEYS if (value := config.get(key)) is not None}
    unknown = _unknown_keys(project)
    if unknown:
        raise ConfigError(
            f"{project}:{unknown[0]} is not a known setting: use one of {', '.join(KEYS)}"
        )
    return parse_config(
        project, stack, raw, pulumi.Config("aws").get("region"), check_required=check_required
    )


def _unknown_keys(project: str) -> list[str]:
    """Catch typos (readReplica for readReplicas) instead of silently using a default."""
    from pulumi.runtime.config import (
        CONFIG,
        get_config_env,
    )  # the engine's flattened "<ns>:<key>" map

    prefix = f"{project}:"
    keys = {**get_config_env(), **CONFIG.get()}
    return sorted(
        k[len(prefix) :] for k in keys if k.startswith(prefix) and k[len(prefix) :] not in KEYS
    )
