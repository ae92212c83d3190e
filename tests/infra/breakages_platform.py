"""Breakages for the platform policies (tenfold_infra/policies/platform.py)."""

from __future__ import annotations

import json
from typing import Any

from breakage import Breakage, Resources, first

TASK = "aws:ecs/taskDefinition:TaskDefinition"
RDS = "aws:rds/instance:Instance"


def named(rs: Resources, type_: str, suffix: str) -> dict[str, Any]:
    (found,) = [r for r in rs if r["type"] == type_ and r["name"].endswith(suffix)]
    return found  # type: ignore[no-any-return]


def edit_containers(rs: Resources, role: str, edit: Any) -> None:
    task = named(rs, TASK, f"-{role}")["inputs"]
    containers = json.loads(task["containerDefinitions"])
    edit({c["name"]: c for c in containers})
    task["containerDefinitions"] = json.dumps(containers)


def rds_managed_password(rs: Resources) -> None:
    primary = first(rs, RDS, primary=True)
    primary.pop("password", None)
    primary["manageMasterUserPassword"] = True


def worker_without_health_check(rs: Resources) -> None:
    edit_containers(rs, "worker", lambda c: c["worker"].pop("healthCheck"))


def app_starts_without_migrating(rs: Resources) -> None:
    edit_containers(rs, "app", lambda c: c["app"].pop("dependsOn"))


def app_closes_idle_connections_before_the_alb(rs: Resources) -> None:
    def as_short_as_the_alb(containers: dict[str, Any]) -> None:
        for variable in containers["app"]["environment"]:
            if variable["name"] == "SERVER_IDLE_TIMEOUT_SECONDS":
                variable["value"] = "60"

    edit_containers(rs, "app", as_short_as_the_alb)


def worker_starts_without_migrating(rs: Resources) -> None:
    """The original bug: the worker ran new job code on the old schema."""
    edit_containers(rs, "worker", lambda c: c["worker"].pop("dependsOn"))


def mutable_image_tags(rs: Resources) -> None:
    first(rs, "aws:ecr/repository:Repository")["imageTagMutability"] = "MUTABLE"


def worker_runs_latest(rs: Resources) -> None:
    def latest(containers: dict[str, Any]) -> None:
        containers["worker"]["image"] = "ghcr.io/your-org/demo-service:latest"

    edit_containers(rs, "worker", latest)


def worker_deploy_does_not_wait(rs: Resources) -> None:
    named(rs, "aws:ecs/service:Service", "-worker")["inputs"]["waitForSteadyState"] = False


def replica_without_storage_autoscaling(rs: Resources) -> None:
    del named(rs, RDS, "-replica-1")["inputs"]["maxAllocatedStorage"]


def worker_scales_on_cpu_only(rs: Resources) -> None:
    rs.remove(named(rs, "aws:appautoscaling/policy:Policy", "-worker-queue-depth"))


def alarms_reach_nobody(rs: Resources) -> None:
    rs.remove(first_resource(rs, "aws:sns/topicSubscription:TopicSubscription"))


def rabbitmq_4_on_m5(rs: Resources) -> None:
    first(rs, "aws:mq/broker:Broker")["hostInstanceType"] = "mq.m5.large"


def database_class_not_sold_in_region(rs: Resources) -> None:
    # mx-central-1 opened without the m5 generation.
    first(rs, RDS, primary=True)["instanceClass"] = "db.m5.large"


def database_log_group_missing(rs: Resources) -> None:
    rs.remove(named(rs, "aws:cloudwatch/logGroup:LogGroup", "-primary-postgresql"))


def first_resource(rs: Resources, type_: str) -> dict[str, Any]:
    return next(r for r in rs if r["type"] == type_)


BREAKAGES = [
    Breakage("replica-source-password-not-managed", rds_managed_password),
    Breakage("essential-containers-health-checked", worker_without_health_check),
    Breakage("target-idle-outlasts-load-balancer", app_closes_idle_connections_before_the_alb),
    Breakage("deploy-runs-migrations", app_starts_without_migrating),
    Breakage("ecr-scan-and-immutable-tags", mutable_image_tags),
    Breakage("images-pinned", worker_runs_latest, "lean-redis-no-cdn", "dev"),
    Breakage("deploy-waits-and-rolls-back", worker_deploy_does_not_wait),
    Breakage("storage-autoscaling", replica_without_storage_autoscaling),
    Breakage("worker-scales-on-queue-depth", worker_scales_on_cpu_only),
    Breakage("prod-alarms-reach-a-person", alarms_reach_nobody),
    Breakage("rabbitmq-version-and-instance", rabbitmq_4_on_m5),
    Breakage(
        "instance-types-sold-in-region", database_class_not_sold_in_region, "lean-redis-no-cdn"
    ),
    Breakage("rds-log-groups-with-retention", database_log_group_missing),
]
# Second faces of a rule, run by test_edge_policies.py (test_policies wants one per policy).
MORE_BREAKAGES = [
    Breakage("deploy-runs-migrations", worker_starts_without_migrating, "lean-redis-no-cdn"),
]
