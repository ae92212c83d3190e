"""The stack config: typed, validated at once, every error naming the key and what is allowed.

Keys live in the project's namespace of Pulumi.<stack>.yaml (`<project>:readReplicas: 2`,
or `pulumi config set readReplicas 2`). `tier` picks the defaults: dev is small and cheap,
prod is highly available; any key set in the file overrides the tier's default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

import pulumi

Tier = Literal["dev", "prod"]
T = TypeVar("T")

FARGATE_CPU_MEMORY_MIB = {
    256: (512, 2048),
    512: (1024, 4096),
    1024: (2048, 8192),
    2048: (4096, 16384),
    4096: (8192, 30720),
}
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

TIER_DEFAULTS: dict[str, dict[str, object]] = {
    "dev": {
        "azCount": 2,
        "natGateways": "single",
        "readReplicas": 0,
        "dbInstanceClass": "db.t4g.micro",
        "dbAllocatedStorageGb": 20,
        "dbMaxAllocatedStorageGb": 50,
        "dbMultiAz": False,
        "dbBackupRetentionDays": 1,
        "deletionProtection": False,
        "cacheNodeType": "cache.t4g.micro",
        "cacheNodes": 1,
        # The smallest instance RabbitMQ 4 runs on (mq.t3.micro is RabbitMQ 3 only).
        "brokerInstanceType": "mq.m7g.medium",
        "brokerDeployment": "SINGLE_INSTANCE",
        "appCpu": 256,
        "appMemoryMib": 512,
        "appMinTasks": 1,
        "appMaxTasks": 2,
        "workerMinTasks": 1,
        "workerMaxTasks": 1,
        "logRetentionDays": 7,
    },
    "prod": {
        "azCount": 3,
        "natGateways": "per-az",
        "readReplicas": 1,
        "dbInstanceClass": "db.r7g.large",
        "dbAllocatedStorageGb": 50,
        "dbMaxAllocatedStorageGb": 500,
        "dbMultiAz": True,
        "dbBackupRetentionDays": 14,
        "deletionProtection": True,
        "cacheNodeType": "cache.r7g.large",
        "cacheNodes": 2,
        "brokerInstanceType": "mq.m7g.large",
        "brokerDeployment": "CLUSTER_MULTI_AZ",
        "appCpu": 1024,
        "appMemoryMib": 2048,
        "appMinTasks": 2,
        "appMaxTasks": 10,
        "workerMinTasks": 2,
        "workerMaxTasks": 6,
        "logRetentionDays": 30,
    },
}


class ConfigError(ValueError):
    """A stack config value is missing or not allowed; the message names the key."""


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    tier: Tier
    region: str
    # None: `pulumi up` builds ../Dockerfile and pushes it to the stack's ECR repository.
    image: str | None
    az_count: int
    availability_zones: tuple[str, ...] | None
    nat_gateway_per_az: bool
    read_replicas: int
    cdn: bool
    broker: Literal["rabbitmq", "redis"]
    domain_name: str | None
    hosted_zone_id: str | None
    db_instance_class: str
    db_allocated_storage_gb: int
    db_max_allocated_storage_gb: int
    db_multi_az: bool
    db_backup_retention_days: int
    deletion_protection: bool
    cache_engine: Literal["valkey", "redis"]
    cache_node_type: str
    cache_nodes: int
    broker_instance_type: str
    broker_deployment: Literal["SINGLE_INSTANCE", "CLUSTER_MULTI_AZ"]
    cpu_architecture: Literal["ARM64", "X86_64"]
    app_cpu: int
    app_memory_mib: int
    app_min_tasks: int
    app_max_tasks: int
    worker_min_tasks: int
    worker_max_tasks: int
    log_retention_days: int
    alb_routing_algorithm: Literal["least_outstanding_requests", "round_robin"]
    alb_slow_start_seconds: int
    alarm_email: str | None
    # USD a month; the preview fails when the cost estimate exceeds it (policies/budget.py).
    monthly_budget_usd: float | None = None

    @property
    def name(self) -> str:
        """Prefix of every AWS name: <project>-<stack>, short enough for ALB/ElastiCache limits."""
        return resource_prefix(self.project, self.stack)


def resource_prefix(project: str, stack: str) -> str:
    """The stack's name prefix; the bootstrap's deploy role scopes IAM and logs to it."""
    return f"{project}-{stack}"[:28].rstrip("-")


class _Values:
    """Reads raw string values and turns bad ones into ConfigError naming `<namespace>:<key>`."""

    def __init__(
        self, namespace: str, raw: Mapping[str, str], defaults: Mapping[str, object]
    ) -> None:
        self.namespace, self.raw, self.defaults = namespace, raw, defaults

    def error(self, key: str, allowed: str, value: object) -> ConfigError:
        return ConfigError(f"{self.namespace}:{key} {allowed}, got {value!r}")

    def _get(self, key: str, parse: Callable[[str], T], allowed: str) -> T:
        if key in self.raw:
            try:
                return parse(self.raw[key])
            except (ValueError, TypeError):
                raise self.error(key, allowed, self.raw[key]) from None
        if key in self.defaults:
            return self.defaults[key]  # type: ignore[return-value]
        raise ConfigError(
            f"{self.namespace}:{key} is required: it {allowed} (set it in the stack's Pulumi.<stack>.yaml)"
        )

    def text(
        self, key: str, allowed: str = "must be a non-empty string", pattern: str | None = None
    ) -> str:
        def parse(value: str) -> str:
            if not value.strip() or (pattern and not re.fullmatch(pattern, value)):
                raise ValueError
            return value

        return self._get(key, parse, allowed)

    def optional_text(self, key: str, allowed: str, pattern: str) -> str | None:
        if not self.raw.get(key):
            return None
        return self.text(key, allowed, pattern)

    def integer(self, key: str, low: int, high: int, choices: tuple[int, ...] | None = None) -> int:
        allowed = (
            f"must be one of {', '.join(map(str, choices))}"
            if choices
            else f"must be a whole number from {low} to {high}"
        )

        def parse(value: str) -> int:
            number = int(value)
            if not low <= number <= high or (choices and number not in choices):
                raise ValueError
            return number

        value = self._get(key, parse, allowed)
        return parse(str(value))

    def boolean(self, key: str) -> bool:
        def parse(value: str) -> bool:
            if value.lower() not in ("true", "false"):
                raise ValueError
            return value.lower() == "true"

        return self._get(key, parse, "must be true or false")

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        allowed = f"must be one of {', '.join(choices)}"

        def parse(value: str) -> str:
            if value not in choices:
                raise ValueError
            return value

        return parse(self._get(key, parse, allowed))


def parse_config(
    project: str, stack: str, raw: Mapping[str, str], region: str | None
) -> StackConfig:
    """Validate raw string values (as Pulumi stores them) into a StackConfig."""
    tier_values = _Values(project, raw, {})
    tier = tier_values.choice("tier", ("dev", "prod"))
    v = _Values(project, raw, TIER_DEFAULTS[tier])
    if not region:
        raise ConfigError(
            "aws:region is required: set it to the AWS region to deploy to, such as eu-west-1"
        )

    read_replicas = v.integer("readReplicas", 0, 5)
    app_cpu = v.integer("appCpu", 256, 4096, tuple(FARGATE_CPU_MEMORY_MIB))
    low, high = FARGATE_CPU_MEMORY_MIB[app_cpu]
    app_memory = v.integer("appMemoryMib", low, high)
    domain = v.optional_text(
        "domainName",
        "must be a hostname such as api.example.com (no scheme, no trailing dot)",
        r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}",
    )
    zone = v.optional_text(
        "hostedZoneId",
        "must be a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ",
        r"Z[A-Z0-9]{1,31}",
    )
    if domain and not zone:
        raise ConfigError(
            f"{project}:hostedZoneId is required when {project}:domainName is set: "
            "the TLS certificate is validated in that zone"
        )
    azs_raw = raw.get("availabilityZones")
    azs: tuple[str, ...] | None = None
    if azs_raw:
        try:
            parsed = json.loads(azs_raw)
            if (
                not isinstance(parsed, list)
                or not all(isinstance(a, str) for a in parsed)
                or not 2 <= len(parsed) <= 3
            ):
                raise ValueError
            azs = tuple(parsed)
        except ValueError:
            raise v.error(
                "availabilityZones",
                "must be a list of 2 or 3 zone names such as [eu-west-1a, eu-west-1b]",
                azs_raw,
            ) from None
    az_count = len(azs) if azs else v.integer("azCount", 2, 3)

    db_storage = v.integer("dbAllocatedStorageGb", 20, 65536)
    db_max_storage = v.integer("dbMaxAllocatedStorageGb", 20, 65536)
    if db_max_storage < db_storage:
        raise v.error(
            "dbMaxAllocatedStorageGb",
            f"must be at least dbAllocatedStorageGb ({db_storage})",
            db_max_storage,
        )
    cache_nodes = v.integer("cacheNodes", 1, 6)
    app_min = v.integer("appMinTasks", 1, 100)
    app_max = v.integer("appMaxTasks", 1, 100)
    if app_max < app_min:
        raise v.error("appMaxTasks", f"must be at least appMinTasks ({app_min})", app_max)
    worker_min = v.integer("workerMinTasks", 0, 100)
    worker_max = v.integer("workerMaxTasks", 1, 100)
    if worker_max < worker_min:
        raise v.error(
            "workerMaxTasks", f"must be at least workerMinTasks ({worker_min})", worker_max
        )
    routing = (
        v.choice("albRoutingAlgorithm", ("least_outstanding_requests", "round_robin"))
        if "albRoutingAlgorithm" in raw
        else "least_outstanding_requests"
    )
    slow_start = v.integer("albSlowStartSeconds", 0, 900) if "albSlowStartSeconds" in raw else 0
    if slow_start and routing != "round_robin":
        raise v.error(
            "albSlowStartSeconds",
            "must be 0 unless albRoutingAlgorithm is round_robin "
            "(AWS cannot combine slow start with least_outstanding_requests)",
            slow_start,
        )
    if slow_start and not 30 <= slow_start <= 900:
        raise v.error("albSlowStartSeconds", "must be 0 or from 30 to 900", slow_start)
    broker_deployment = v.choice("brokerDeployment", ("SINGLE_INSTANCE", "CLUSTER_MULTI_AZ"))
    broker_instance = v.text(
        "brokerInstanceType",
        "must be an Amazon MQ instance type such as mq.m7g.large",
        r"mq\.[a-z0-9]+\.[a-z0-9]+",
    )
    if not broker_instance.startswith("mq.m7g."):
        raise v.error(
            "brokerInstanceType",
            "must be an mq.m7g instance type such as mq.m7g.medium or mq.m7g.large "
            "(Amazon MQ runs RabbitMQ 4 on mq.m7g only)",
            broker_instance,
        )
    if broker_deployment == "CLUSTER_MULTI_AZ" and broker_instance.startswith("mq.t3."):
        raise v.error(
            "brokerInstanceType",
            "must not be mq.t3.* with a CLUSTER_MULTI_AZ brokerDeployment "
            "(Amazon MQ allows t3 for single instances only)",
            broker_instance,
        )

    return StackConfig(
        project=project,
        stack=stack,
        tier=tier,  # type: ignore[arg-type]
        region=region,
        image=_image(v, raw.get("image")),
        az_count=az_count,
        availability_zones=azs,
        nat_gateway_per_az=v.choice("natGateways", ("single", "per-az")) == "per-az",
        read_replicas=read_replicas,
        cdn=v.boolean("cdn") if "cdn" in raw else True,
        broker=v.choice("broker", ("rabbitmq", "redis")) if "broker" in raw else "rabbitmq",  # type: ignore[arg-type]
        domain_name=domain,
        hosted_zone_id=zone if domain else None,
        db_instance_class=v.text(
            "dbInstanceClass",
            "must be an RDS instance class such as db.r7g.large",
            r"db\.[a-z0-9]+\.[a-z0-9]+",
        ),
        db_allocated_storage_gb=db_storage,
        db_max_allocated_storage_gb=db_max_storage,
        db_multi_az=v.boolean("dbMultiAz"),
        db_backup_retention_days=v.integer("dbBackupRetentionDays", 1, 35),
        deletion_protection=v.boolean("deletionProtection"),
        cache_engine=v.choice("cacheEngine", ("valkey", "redis"))
        if "cacheEngine" in raw
        else "valkey",  # type: ignore[arg-type]
        cache_node_type=v.text(
            "cacheNodeType",
            "must be an ElastiCache node type such as cache.r7g.large",
            r"cache\.[a-z0-9]+\.[a-z0-9]+",
        ),
        cache_nodes=cache_nodes,
        broker_instance_type=broker_instance,
        broker_deployment=broker_deployment,  # type: ignore[arg-type]
        cpu_architecture=v.choice("cpuArchitecture", ("ARM64", "X86_64"))  # type: ignore[arg-type]
        if "cpuArchitecture" in raw
        else "ARM64",
        app_cpu=app_cpu,
        app_memory_mib=app_memory,
        app_min_tasks=app_min,
        app_max_tasks=app_max,
        worker_min_tasks=worker_min,
        worker_max_tasks=worker_max,
        log_retention_days=v.integer("logRetentionDays", 1, 3653, LOG_RETENTION_DAYS),
        alb_routing_algorithm=routing,  # type: ignore[arg-type]
        alb_slow_start_seconds=slow_start,
        alarm_email=_alarm_email(v, tier),
        monthly_budget_usd=_monthly_budget(v, raw.get("monthlyBudget")),
    )


def _monthly_budget(v: _Values, raw: str | None) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        budget = float(raw)
    except ValueError:
        budget = -1.0
    if not budget > 0:
        raise v.error(
            "monthlyBudget", "must be a positive number of USD a month, such as 2500", raw
        )
    return budget


def _image(v: _Values, image: str | None) -> str | None:
    """A prebuilt image must name one build: a tag other than latest, or a digest."""
    if not image:
        return None
    repository, _, tag = image.rpartition("/")[2].partition(":")
    digest = re.fullmatch(r"[^@\s]+@sha256:[0-9a-f]{64}", image)
    if "@" in image and not digest:
        raise v.error("image", "must end in a digest such as @sha256:<64 hex digits>", image)
    if not digest and (not tag or tag == "latest" or not repository or " " in image):
        raise v.error(
            "image",
            "must name one build, with a tag other than latest (such as "
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1.4.2) or a digest "
            "(app@sha256:...); leave it unset to build ../Dockerfile and push it to ECR",
            image,
        )
    return image


def _alarm_email(v: _Values, tier: str) -> str | None:
    """Prod alarms must reach a person: an alarm topic without a subscriber pages nobody."""
    email = v.optional_text("alarmEmail", "must be an email address", r"[^@\s]+@[^@\s]+\.[^@\s]+")
    if tier == "prod" and not email:
        raise ConfigError(
            f"{v.namespace}:alarmEmail is required in prod: the alarms must reach a person. "
            "Run `pulumi config set alarmEmail you@example.com` (AWS sends a confirmation "
            "mail to accept)"
        )
    return email


KEYS = (
    "tier",
    "image",
    "azCount",
    "availabilityZones",
    "natGateways",
    "readReplicas",
    "cdn",
    "broker",
    "domainName",
    "hostedZoneId",
    "dbInstanceClass",
    "dbAllocatedStorageGb",
    "dbMaxAllocatedStorageGb",
    "dbMultiAz",
    "dbBackupRetentionDays",
    "deletionProtection",
    "cacheEngine",
    "cacheNodeType",
    "cacheNodes",
    "brokerInstanceType",
    "brokerDeployment",
    "cpuArchitecture",
    "appCpu",
    "appMemoryMib",
    "appMinTasks",
    "appMaxTasks",
    "workerMinTasks",
    "workerMaxTasks",
    "logRetentionDays",
    "albRoutingAlgorithm",
    "albSlowStartSeconds",
    "alarmEmail",
    "monthlyBudget",
)


def load_config() -> StackConfig:
    """Read the running stack's config (works under `pulumi up` and under the offline preview's mocks)."""
    project, stack = pulumi.get_project(), pulumi.get_stack()
    config = pulumi.Config()
    raw = {key: value for key in KEYS if (value := config.get(key)) is not None}
    unknown = _unknown_keys(project)
    if unknown:
        raise ConfigError(
            f"{project}:{unknown[0]} is not a known setting: use one of {', '.join(KEYS)}"
        )
    return parse_config(project, stack, raw, pulumi.Config("aws").get("region"))


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
