"""Database, cache, broker, service and deploy path: what AWS refuses, and what breaks after `pulumi up`.

Each check names the AWS page that states its rule and the error AWS returns (or, for the
deploy path, what the user would see), and its message says what to change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from .model import (
    ECS_SERVICE,
    LOAD_BALANCERS,
    LOG_GROUP,
    MQ_BROKER,
    RDS_INSTANCE,
    Policy,
    Resource,
    is_primary,
    of_types,
)

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
# The service's setting for how long a connection may go without a request (app/settings.py).
SERVER_IDLE_TIMEOUT = "SERVER_IDLE_TIMEOUT_SECONDS"
SCALING_POLICY = "aws:appautoscaling/policy:Policy"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
SNS_TOPIC = "aws:sns/topic:Topic"
SNS_SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
CACHE_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SUBNET = "aws:ec2/subnet:Subnet"

QUEUE_DEPTH_METRIC = "JobsQueueDepth"
MIGRATE_MODULE = "app.db.migrate"
# Amazon MQ for RabbitMQ engine versions a new broker may use, and the instance families each
# runs on: https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/rabbitmq-version-management.html
# and https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/rabbitmq-4.html
RABBITMQ_VERSIONS = {
    "3.13": ("mq.t3.", "mq.m5.", "mq.m7g."),
    "4.2": ("mq.m7g.",),
    "4.3": ("mq.m7g.",),
}


def _container_definitions(task: Resource) -> list[dict[str, Any]]:
    raw = task.props.get("containerDefinitions")
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return []
        return parsed if isinstance(parsed, list) else []
    return list(raw) if isinstance(raw, list) else []


def _load_balanced_containers(resources: list[Resource]) -> set[str]:
    return {
        str(lb.get("containerName"))
        for service in of_types(resources, ECS_SERVICE)
        for lb in service.props.get("loadBalancers") or []
    }


def replica_source_password_not_managed(resources: list[Resource]) -> list[str]:
    """RDS refuses a read replica of a primary whose master password it manages in Secrets
    Manager (all engines but SQL Server): CreateDBInstanceReadReplica fails with
    `InvalidParameterValue: Creating read replicas for source instance with engine postgres
    where ManageMasterUserPassword is enabled is not supported`.
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations
    """
    instances = of_types(resources, RDS_INSTANCE)
    managed = {
        key
        for r in instances
        if is_primary(r) and r.props.get("manageMasterUserPassword") is True
        for key in (r.name, r.props.get("identifier"))
        if key
    }
    single_primary = len([r for r in instances if is_primary(r)]) == 1
    return [
        f"{r.name}: its source {r.props['replicateSourceDb']} has manageMasterUserPassword, which "
        "RDS refuses for read replicas (InvalidParameterValue); give the primary a generated "
        "password from Secrets Manager instead"
        for r in instances
        if not is_primary(r)
        and (
            r.props["replicateSourceDb"] in managed
            or (single_primary and managed and not isinstance(r.props["replicateSourceDb"], str))
        )
    ]


def essential_containers_health_checked(resources: list[Resource]) -> list[str]:
    """An essential container without a health check and outside a target group is never
    replaced while it hangs: ECS only sees it as RUNNING.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/healthcheck.html
    """
    behind_target_group = _load_balanced_containers(resources)
    return [
        f"{task.name}: essential container {c.get('name')!r} has no healthCheck and no target "
        "group; add a healthCheck command (the worker: python -m app.jobs.health)"
        for task in of_types(resources, TASK_DEFINITION)
        for c in _container_definitions(task)
        if c.get("essential", True) is not False
        and not (c.get("healthCheck") or {}).get("command")
        and c.get("name") not in behind_target_group
    ]


def target_idle_outlasts_load_balancer(resources: list[Resource]) -> list[str]:
    """The service behind an ALB keeps idle connections longer than the ALB does
    (SERVER_IDLE_TIMEOUT_SECONDS above the load balancer's idleTimeout), so the ALB closes
    them first; otherwise it can send a request on a connection the service is closing and
    answer 502.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html#connection-idle-timeout
    """
    balancers = [
        r
        for r in of_types(resources, *LOAD_BALANCERS)
        if r.props.get("loadBalancerType", "application") == "application"
    ]
    if not balancers:
        return []
    # ELB's default when unset is 60 s (the same page).
    alb_idle = max(int(r.props.get("idleTimeout") or 60) for r in balancers)
    behind_target_group = _load_balanced_containers(resources)
    problems = []
    for task in of_types(resources, TASK_DEFINITION):
        for container in _container_definitions(task):
            if container.get("name") not in behind_target_group:
                continue
            environment = {
                str(e.get("name")): str(e.get("value")) for e in container.get("environment") or []
            }
            value = environment.get(SERVER_IDLE_TIMEOUT)
            try:
                seconds = float(value) if value is not None else None
            except ValueError:
                seconds = None
            if seconds is None or seconds <= alb_idle:
                problems.append(
                    f"{task.name}: container {container.get('name')!r} has {SERVER_IDLE_TIMEOUT}"
                    f"={value or 'unset (10 s)'}, not above the load balancer's idle timeout "
                    f"({alb_idle} s); set it to at least {alb_idle + 1}"
                )
    return problems


def deploy_runs_migrations(resources: list[Resource]) -> list[str]:
    """Every essential container (the app behind the load balancer, the worker) must start
    only after a non-essential migration container exits 0 (`dependsOn` condition SUCCESS),
    or new code runs on an old schema: every data route answers 500 and jobs fail. SUCCESS
    requires the dependency to be non-essential.
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDependency.html
    """
    problems = []
    for task in of_types(resources, TASK_DEFINITION):
        containers = {str(c.get("name")): c for c in _container_definitions(task)}
        for name, container in containers.items():
            if container.get("essential", True) is False:
                continue
            migrations = [
                d
                for d in container.get("dependsOn") or []
                if d.get("condition") == "SUCCESS"
                and MIGRATE_MODULE
                in " ".join(containers.get(str(d.get("containerName")), {}).get("command") or [])
                and containers[str(d.get("containerName"))].get("essential") is False
            ]
            if not migrations:
                problems.append(
                    f"{task.name}: container {name!r} does not dependOn a non-essential "
                    f"container running `python -m {MIGRATE_MODULE}` with condition SUCCESS; "
                    "it would start on a schema its code does not expect"
                )
    return problems


def ecr_scan_and_immutable_tags(resources: list[Resource]) -> list[str]:
    """Scan every pushed image for CVEs, and never let a tag point at another image (a deploy
    or rollback by tag must run what was previewed).
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html and
    https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning.html
    """
    problems = []
    for r in of_types(resources, ECR_REPOSITORY):
        if r.props.get("imageTagMutability") != "IMMUTABLE":
            problems.append(f"{r.name}: imageTagMutability must be IMMUTABLE")
        if (r.props.get("imageScanningConfiguration") or {}).get("scanOnPush") is not True:
            problems.append(f"{r.name}: imageScanningConfiguration.scanOnPush must be true")
    return problems


def _image_problem(image: object) -> str | None:
    if not isinstance(image, str) or not image:
        return "has no image"
    if re.search(r"@sha256:[0-9a-f]{64}$", image):
        return None
    tag = image.rpartition("/")[2].partition(":")[2]
    if not tag:
        return f"image {image!r} has no tag (ECS would pull :latest)"
    if tag == "latest":
        return f"image {image!r} uses :latest"
    return None


def images_pinned(resources: list[Resource]) -> list[str]:
    """A `latest` or untagged image changes under a running service: tasks started by a scale
    out run other code than their siblings, and a rollback redeploys whatever latest is now.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/container-considerations.html
    """
    problems = []
    for task in of_types(resources, TASK_DEFINITION):
        for c in _container_definitions(task):
            if (problem := _image_problem(c.get("image"))) is not None:
                problems.append(
                    f"{task.name}: container {c.get('name')!r} {problem}; deploy a tag other "
                    "than latest or a digest (leave `image` unset to build and push one)"
                )
    return problems


def deploy_waits_and_rolls_back(resources: list[Resource]) -> list[str]:
    """Without waitForSteadyState `pulumi up` reports success as soon as ECS accepts the new
    task definition, while the tasks may crash-loop; the deployment circuit breaker with
    rollback stops a failing deployment and returns to the last working one.
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html
    """
    problems = []
    for r in of_types(resources, ECS_SERVICE):
        if r.props.get("waitForSteadyState") is not True:
            problems.append(f"{r.name}: waitForSteadyState must be true")
        breaker = r.props.get("deploymentCircuitBreaker") or {}
        if not (breaker.get("enable") is True and breaker.get("rollback") is True):
            problems.append(f"{r.name}: deploymentCircuitBreaker needs enable and rollback true")
    return problems


def storage_autoscaling(resources: list[Resource]) -> list[str]:
    """Every instance grows its storage (maxAllocatedStorage above allocatedStorage), and a
    replica may grow at least as far as its primary: a replica out of space stops replicating
    (state `storage-full`).
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIOPS.Autoscaling.html
    """
    instances = of_types(resources, RDS_INSTANCE)
    primaries = [r for r in instances if is_primary(r)]
    primary_max = max((int(r.props.get("maxAllocatedStorage") or 0) for r in primaries), default=0)
    problems = []
    for r in instances:
        ceiling = int(r.props.get("maxAllocatedStorage") or 0)
        if is_primary(r):
            if ceiling <= int(r.props.get("allocatedStorage") or 0):
                problems.append(
                    f"{r.name}: maxAllocatedStorage must exceed allocatedStorage (storage autoscaling)"
                )
        elif ceiling < primary_max:
            problems.append(
                f"{r.name}: read replica maxAllocatedStorage {ceiling or 'unset'} is below the "
                f"primary's {primary_max}; give replicas the primary's ceiling"
            )
    return problems


def _metric_names(policy: Resource) -> set[str]:
    config = policy.props.get("targetTrackingScalingPolicyConfiguration") or {}
    spec = config.get("customizedMetricSpecification") or {}
    names = {spec.get("metricName")}
    for metric in spec.get("metrics") or []:
        names.add(((metric.get("metricStat") or {}).get("metric") or {}).get("metricName"))
    return {n for n in names if n}


def worker_scales_on_queue_depth(resources: list[Resource]) -> list[str]:
    """A worker waiting on I/O is idle while jobs pile up: CPU never scales it out. The service
    without a load balancer (the worker) tracks the backlog per task.
    https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-target-tracking-metric-math.html
    """
    policies = of_types(resources, SCALING_POLICY)
    problems = []
    for service in of_types(resources, ECS_SERVICE):
        if service.props.get("loadBalancers"):
            continue
        name = service.props.get("name") or service.name
        own = [
            p
            for p in policies
            if not isinstance(p.props.get("resourceId"), str)
            or str(p.props["resourceId"]).endswith(f"/{name}")
        ]
        if not any(QUEUE_DEPTH_METRIC in _metric_names(p) for p in own):
            problems.append(
                f"{service.name}: no scaling policy on the {QUEUE_DEPTH_METRIC} metric; scale the "
                "worker on its queue backlog, not only on CPU"
            )
    return problems


def prod_alarms_reach_a_person(resources: list[Resource]) -> list[str]:
    """An SNS topic without a subscription drops every alarm it receives.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html
    """
    subscriptions = [str(s.props.get("topic")) for s in of_types(resources, SNS_SUBSCRIPTION)]
    return [
        f"{t.name}: prod alarm topic has no subscription; set the stack config "
        "`pulumi config set alarmEmail you@example.com`"
        for t in of_types(resources, SNS_TOPIC)
        if t.prod
        and not any(
            s.endswith(f":{t.props.get('name') or t.name}") or not s.startswith("arn:")
            for s in subscriptions
        )
    ]


def rabbitmq_version_and_instance(resources: list[Resource]) -> list[str]:
    """Amazon MQ creates RabbitMQ brokers on 3.13 (mq.t3, mq.m5, mq.m7g) and 4.2/4.3 (mq.m7g
    only), requires autoMinorVersionUpgrade from 3.13 on, and runs mq.t3.micro as a single
    instance only; otherwise CreateBroker fails with `BadRequestException`.
    https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/rabbitmq-version-management.html
    https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/rabbitmq-broker-instance-types.html
    """
    problems = []
    for r in of_types(resources, MQ_BROKER):
        if str(r.props.get("engineType", "")).lower() != "rabbitmq":
            continue
        version = str(r.props.get("engineVersion", ""))
        instance = str(r.props.get("hostInstanceType", ""))
        families = RABBITMQ_VERSIONS.get(version)
        if families is None:
            problems.append(
                f"{r.name}: engineVersion {version!r} is not one Amazon MQ creates RabbitMQ "
                f"brokers on; use 4.2 (supported: {', '.join(RABBITMQ_VERSIONS)})"
            )
        elif not instance.startswith(families):
            problems.append(
                f"{r.name}: RabbitMQ {version} does not run on {instance}; use "
                f"{' or '.join(f + '*' for f in families)}"
            )
        if r.props.get("autoMinorVersionUpgrade") is not True:
            problems.append(f"{r.name}: autoMinorVersionUpgrade must be true for RabbitMQ 3.13+")
        if instance == "mq.t3.micro" and r.props.get("deploymentMode") != "SINGLE_INSTANCE":
            problems.append(f"{r.name}: mq.t3.micro runs as SINGLE_INSTANCE only")
    return problems


@cache
def _sold() -> Mapping[str, Any]:
    return json.loads((Path(__file__).with_name("instance_types.json")).read_text())  # type: ignore[no-any-return]


def sold_in(kind: Mapping[str, Any], instance_type: str, region: str) -> bool | None:
    """True/False from the data; None when the region is not in it (nothing to judge)."""
    if region not in kind["regions"]:
        return None
    if instance_type in kind["only"]:
        return region in kind["only"][instance_type]
    if instance_type in kind["except"]:
        return region not in kind["except"][instance_type]
    return False


def stack_region(resources: list[Resource]) -> str | None:
    """The region, read from a subnet's zone (eu-west-1a) or a container's awslogs-region."""
    for subnet in of_types(resources, SUBNET):
        zone = subnet.props.get("availabilityZone")
        if isinstance(zone, str) and re.fullmatch(r"[a-z]+(-[a-z]+)+-\d[a-z]", zone):
            return zone[:-1]
    for task in of_types(resources, TASK_DEFINITION):
        for c in _container_definitions(task):
            region = ((c.get("logConfiguration") or {}).get("options") or {}).get("awslogs-region")
            if region:
                return str(region)
    return None


def instance_types_sold_in_region(resources: list[Resource]) -> list[str]:
    """RDS, ElastiCache and Amazon MQ sell a different set of instance types in each region;
    any other fails (RDS `InvalidParameterCombination: RDS does not support creating a DB
    instance with the following combination`, ElastiCache `InvalidParameterValue`, Amazon MQ
    `BadRequestException`). Read from cfn-lint's region data (instance_types.json, generated by
    scripts/instance_types.py):
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.RegionSupport.html
    https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheNodes.SupportedTypes.html
    https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/rabbitmq-broker-instance-types.html
    """
    region = stack_region(resources)
    if region is None:
        return []
    data = _sold()
    checks: list[tuple[Resource, str, Mapping[str, Any]]] = []
    for r in of_types(resources, RDS_INSTANCE):
        engine = str(r.props.get("engine") or "postgres")
        if engine in data["rds"]:
            checks.append((r, str(r.props.get("instanceClass")), data["rds"][engine]))
    checks += [
        (r, str(r.props.get("nodeType")), data["elasticache"])
        for r in of_types(resources, CACHE_GROUP)
    ]
    checks += [
        (r, str(r.props.get("hostInstanceType")), data["mq"])
        for r in of_types(resources, MQ_BROKER)
    ]
    return [
        f"{r.name}: {instance_type} is not sold in {region}; choose a type listed for the "
        f"region (source: {data['source']})"
        for r, instance_type, kind in checks
        if sold_in(kind, instance_type, region) is False
    ]


def rds_log_groups_with_retention(resources: list[Resource]) -> list[str]:
    """RDS creates /aws/rds/instance/<id>/<log> on first export, without retention, so those
    logs are kept (and billed) forever; the stack creates each group first, with retention.
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_LogAccess.Procedural.UploadtoCloudWatch.html
    """
    # Whether each group has a retention is log-retention's check; this one sees they exist.
    groups = {str(g.props.get("name")) for g in of_types(resources, LOG_GROUP)}
    problems = []
    for r in of_types(resources, RDS_INSTANCE):
        identifier = r.props.get("identifier")
        for log in r.props.get("enabledCloudwatchLogsExports") or []:
            if not identifier:
                problems.append(
                    f"{r.name}: exports {log} logs without an explicit identifier, so its log "
                    "group cannot be created first with retention"
                )
            elif f"/aws/rds/instance/{identifier}/{log}" not in groups:
                problems.append(
                    f"{r.name}: no log group /aws/rds/instance/{identifier}/{log}; create it "
                    "(with retentionInDays) before the instance"
                )
    return problems


PLATFORM: tuple[Policy, ...] = (
    Policy(
        "replica-source-password-not-managed",
        "No read replica of a primary whose password RDS manages",
        replica_source_password_not_managed,
    ),
    Policy(
        "essential-containers-health-checked",
        "Every essential container has a health check or sits behind a target group",
        essential_containers_health_checked,
    ),
    Policy(
        "target-idle-outlasts-load-balancer",
        "The service behind an ALB keeps idle connections longer than the ALB does",
        target_idle_outlasts_load_balancer,
    ),
    Policy(
        "deploy-runs-migrations",
        "The app and the worker wait for the migrate container to succeed",
        deploy_runs_migrations,
    ),
    Policy(
        "ecr-scan-and-immutable-tags",
        "ECR repositories scan on push and keep tags immutable",
        ecr_scan_and_immutable_tags,
    ),
    Policy(
        "images-pinned",
        "No task definition runs a :latest or untagged image",
        images_pinned,
    ),
    Policy(
        "deploy-waits-and-rolls-back",
        "ECS services wait for a steady state and roll back a failing deployment",
        deploy_waits_and_rolls_back,
    ),
    Policy(
        "storage-autoscaling",
        "Every database instance autoscales storage; replicas at least as far as the primary",
        storage_autoscaling,
    ),
    Policy(
        "worker-scales-on-queue-depth",
        "The worker scales on the queue backlog",
        worker_scales_on_queue_depth,
    ),
    Policy(
        "prod-alarms-reach-a-person",
        "In prod the alarm topic has a subscription",
        prod_alarms_reach_a_person,
    ),
    Policy(
        "rabbitmq-version-and-instance",
        "RabbitMQ version, instance type and deployment mode are a combination Amazon MQ creates",
        rabbitmq_version_and_instance,
    ),
    Policy(
        "instance-types-sold-in-region",
        "RDS, ElastiCache and Amazon MQ instance types are sold in the stack's region",
        instance_types_sold_in_region,
    ),
    Policy(
        "rds-log-groups-with-retention",
        "Every RDS log export has its log group, created first with retention",
        rds_log_groups_with_retention,
    ),
)
