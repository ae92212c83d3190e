"""The deploy path and the data tier of every rendered service, as the preview captures them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rendered_services import Rendered
from tenfold_infra.preview import REDACTED

STACKS = ("dev", "prod")
TASK = "aws:ecs/taskDefinition:TaskDefinition"


def containers(service: Rendered, stack: str, role: str) -> dict[str, dict[str, Any]]:
    task = service.one(stack, TASK, f"-{role}")
    return {c["name"]: c for c in json.loads(task["inputs"]["containerDefinitions"])}


@pytest.mark.parametrize("stack", STACKS)
def test_image_is_built_pushed_to_ecr_and_deployed_by_tag(service: Rendered, stack: str) -> None:
    repository = service.one(stack, "aws:ecr/repository:Repository")["inputs"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["forceDelete"] is (stack == "dev")
    rules = json.loads(
        service.one(stack, "aws:ecr/lifecyclePolicy:LifecyclePolicy")["inputs"]["policy"]
    )["rules"]
    assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "any"]
    image = service.one(stack, "docker-build:index:Image")["inputs"]
    assert image["push"] is True
    assert image["context"] == {"location": ".."}
    assert image["dockerfile"] == {"location": "../Dockerfile"}
    assert image["platforms"] == ["linux/arm64"]  # cpuArchitecture ARM64
    (tag,) = image["tags"]
    assert tag.startswith(f"{service.previews[stack]['outputs']['repository_url']}:")
    assert not tag.endswith(":latest")
    for role in ("app", "worker"):
        assert {c["image"] for c in containers(service, stack, role).values()} == {tag}
    assert service.previews[stack]["outputs"]["image"] == tag


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("role", ["app", "worker"])
def test_migrations_run_before_new_code_starts(service: Rendered, stack: str, role: str) -> None:
    """The app before it takes traffic, the worker before it takes jobs."""
    task = containers(service, stack, role)
    assert task["migrate"]["command"] == ["python", "-m", "app.db.migrate"]
    assert task["migrate"]["essential"] is False
    assert "portMappings" not in task["migrate"]
    assert task["migrate"]["environment"] == task[role]["environment"]
    assert task["migrate"]["secrets"] == task[role]["secrets"]
    assert task[role]["dependsOn"] == [{"containerName": "migrate", "condition": "SUCCESS"}]


def test_each_creation_of_prod_gets_its_own_final_snapshot_name(service: Rendered) -> None:
    """A fixed `<name>-final` already exists at the second destroy (DBSnapshotAlreadyExists):
    the name ends in the password secret's ARN suffix, which AWS picks at each creation (the
    mocks' secrets end in -AbCdEf)."""
    primary = service.one("prod", "aws:rds/instance:Instance", "-primary")["inputs"]
    assert primary["finalSnapshotIdentifier"] == f"{primary['identifier']}-final-abcdef"
    assert primary["skipFinalSnapshot"] is False
    dev = service.one("dev", "aws:rds/instance:Instance", "-primary")["inputs"]
    assert dev["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in dev


@pytest.mark.parametrize("stack", STACKS)
def test_services_wait_and_the_worker_is_health_checked(service: Rendered, stack: str) -> None:
    for ecs in service.resources(stack, "aws:ecs/service:Service"):
        assert ecs["inputs"]["waitForSteadyState"] is True
        assert ecs["inputs"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    worker = containers(service, stack, "worker")["worker"]
    assert worker["healthCheck"]["command"] == ["CMD", "python", "-m", "app.jobs.health"]


@pytest.mark.parametrize("stack", STACKS)
def test_worker_scales_on_queue_backlog(service: Rendered, stack: str) -> None:
    name = f"demo-service-{stack}"
    if service.answers.get("project_slug"):
        name = f"{service.answers['project_slug']}-{stack}"
    env = {
        e["name"]: e["value"] for e in containers(service, stack, "worker")["worker"]["environment"]
    }
    assert env["METRICS_NAMESPACE"] == env["SERVICE_NAME"] == name
    policy = service.one(stack, "aws:appautoscaling/policy:Policy", "-worker-queue-depth")["inputs"]
    assert policy["resourceId"].endswith("-worker")
    metrics = policy["targetTrackingScalingPolicyConfiguration"]["customizedMetricSpecification"][
        "metrics"
    ]
    depth = next(m for m in metrics if m["id"] == "depth")["metricStat"]["metric"]
    assert depth == {
        "namespace": name,
        "metricName": "JobsQueueDepth",
        "dimensions": [{"name": "Service", "value": name}],
    }
    assert next(m for m in metrics if m.get("returnData"))["expression"].startswith("depth / ")


@pytest.mark.parametrize("stack", STACKS)
def test_database_password_and_replica_storage(service: Rendered, stack: str) -> None:
    instances = [r["inputs"] for r in service.resources(stack, "aws:rds/instance:Instance")]
    (primary,) = [i for i in instances if not i.get("replicateSourceDb")]
    assert primary["password"] == REDACTED  # the generated value never reaches the output
    assert "manageMasterUserPassword" not in primary
    for replica in instances:
        assert replica["maxAllocatedStorage"] == primary["maxAllocatedStorage"]
    secret = service.one(stack, "aws:secretsmanager/secret:Secret", "-database-password")
    assert "DATABASE_PASSWORD" in secret["inputs"]["description"]


@pytest.mark.parametrize("stack", STACKS)
def test_database_logs_expire(service: Rendered, stack: str) -> None:
    groups = {
        g["inputs"]["name"]: g["inputs"]["retentionInDays"]
        for g in service.resources(stack, "aws:cloudwatch/logGroup:LogGroup")
    }
    for instance in service.resources(stack, "aws:rds/instance:Instance"):
        identifier = instance["inputs"]["identifier"]
        assert len(identifier) <= 63
        for log in instance["inputs"]["enabledCloudwatchLogsExports"]:
            assert groups[f"/aws/rds/instance/{identifier}/{log}"] == (30 if stack == "prod" else 7)


@pytest.mark.parametrize("stack", STACKS)
def test_rabbitmq_4(service: Rendered, stack: str) -> None:
    brokers = service.resources(stack, "aws:mq/broker:Broker")
    if service.answers["broker"] == "redis":
        assert brokers == []
        return
    (broker,) = brokers
    assert broker["inputs"]["engineVersion"] == "4.2"
    assert broker["inputs"]["hostInstanceType"].startswith("mq.m7g.")
    assert broker["inputs"]["autoMinorVersionUpgrade"] is True
    assert "broker_id" in service.previews[stack]["outputs"]


def test_prod_alarms_mail_the_answered_address(service: Rendered) -> None:
    (subscription,) = service.resources("prod", "aws:sns/topicSubscription:TopicSubscription")
    assert subscription["inputs"]["protocol"] == "email"
    assert subscription["inputs"]["endpoint"] == "oncall@example.com"
