"""Run every stack of this service offline (SDK mocks) and check what it would deploy.

`cd infra && python -m pytest tests`: no Pulumi CLI, no AWS credentials needed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tenfold_infra.config import StackConfig, parse_config
from tenfold_infra.preview import read_stack_config

INFRA = Path(__file__).resolve().parent.parent
# How the preview shows a generated secret (the database password): never its value.
REDACTED = "[secret]"
STACKS = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in INFRA.glob("Pulumi.*.yaml"))


def settings(stack: str) -> dict[str, Any]:
    project = yaml.safe_load((INFRA / "Pulumi.yaml").read_text())["name"]
    config = yaml.safe_load((INFRA / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {
        key.split(":", 1)[1]: value
        for key, value in config.items()
        if key.startswith(f"{project}:")
    }


def effective(stack: str) -> StackConfig:
    """The stack's config as the program reads it: the file's values over the tier's defaults."""
    project, values = read_stack_config(INFRA, stack)
    raw = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith(f"{project}:")}
    return parse_config(project, stack, raw, values.get("aws:region"))


def run_preview(stack: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tenfold_infra", "preview", "--stack", stack, "--json"],
        cwd=INFRA,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def needs_alarm_email(stack: str) -> bool:
    """prod refuses to preview until alarmEmail is set (copier's alarm_email question)."""
    wanted = settings(stack)
    return wanted.get("tier") == "prod" and not wanted.get("alarmEmail")


@pytest.fixture(scope="module", params=STACKS)
def preview(request: pytest.FixtureRequest) -> dict[str, Any]:
    if needs_alarm_email(request.param):
        pytest.skip(f"Pulumi.{request.param}.yaml has no alarmEmail yet (see the test below)")
    done = run_preview(request.param)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    result["stack"] = request.param
    return result


def of_type(preview: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r for r in preview["resources"] if r["type"] == type_]


@pytest.mark.parametrize("stack", STACKS)
def test_prod_asks_for_alarm_email(stack: str) -> None:
    if not needs_alarm_email(stack):
        pytest.skip(f"Pulumi.{stack}.yaml sets alarmEmail or is not prod")
    done = run_preview(stack)
    assert done.returncode == 2
    assert "alarmEmail is required in prod" in done.stderr
    # The plan is shown first; the missing key is reported after it.
    preview = json.loads(done.stdout)
    assert preview["resources"]
    assert "alarmEmail is required in prod" in preview["missing_config"][0]
    assert "pulumi config set alarmEmail" in done.stderr


def test_every_policy_passes(preview: dict[str, Any]) -> None:
    assert [p for p in preview["policies"] if not p["passed"]] == []


def test_database_matches_the_stack_config(preview: dict[str, Any]) -> None:
    wanted = effective(preview["stack"]).database
    instances = of_type(preview, "aws:rds/instance:Instance")
    primary = [i for i in instances if not i["inputs"].get("replicateSourceDb")]
    replicas = [i for i in instances if i["inputs"].get("replicateSourceDb")]
    assert len(primary) == 1 and len(replicas) == wanted.read_replicas
    assert primary[0]["inputs"]["multiAz"] is wanted.multi_az
    assert primary[0]["inputs"]["storageEncrypted"] is True
    # A stack-generated password: RDS refuses replicas of a primary whose password it manages.
    assert "manageMasterUserPassword" not in primary[0]["inputs"]
    assert primary[0]["inputs"]["password"] == REDACTED
    # Replicas grow as far as the primary does.
    ceiling = primary[0]["inputs"]["maxAllocatedStorage"]
    assert all(r["inputs"]["maxAllocatedStorage"] == ceiling for r in replicas)


def test_deploy_builds_migrates_and_waits(preview: dict[str, Any]) -> None:
    wanted = settings(preview["stack"])
    tasks = {
        r["name"].rsplit("-", 1)[-1]: json.loads(r["inputs"]["containerDefinitions"])
        for r in of_type(preview, "aws:ecs/taskDefinition:TaskDefinition")
    }
    for role in ("app", "worker"):  # new code starts on the migrated schema only
        task = {c["name"]: c for c in tasks[role]}
        assert task["migrate"]["command"] == ["python", "-m", "app.db.migrate"]
        assert task["migrate"]["essential"] is False
        assert task[role]["dependsOn"] == [{"containerName": "migrate", "condition": "SUCCESS"}]
    assert tasks["worker"][0]["healthCheck"]["command"] == [
        "CMD",
        "python",
        "-m",
        "app.jobs.health",
    ]
    images = {c["image"] for containers in tasks.values() for c in containers}
    if wanted.get("image"):
        assert images == {wanted["image"]}
    else:
        (image,) = of_type(preview, "docker-build:index:Image")
        assert images == set(image["inputs"]["tags"])
        assert of_type(preview, "aws:ecr/repository:Repository")
    assert all(
        s["inputs"]["waitForSteadyState"] is True
        for s in of_type(preview, "aws:ecs/service:Service")
    )


def test_service_gets_writer_and_reader_endpoints(preview: dict[str, Any]) -> None:
    app = next(
        r
        for r in of_type(preview, "aws:ecs/taskDefinition:TaskDefinition")
        if r["name"].endswith("-app")
    )
    container = json.loads(app["inputs"]["containerDefinitions"])[0]
    env = {e["name"]: e["value"] for e in container["environment"]}
    secrets = {s["name"] for s in container["secrets"]}
    assert (
        env["DATABASE_URL"].split("@")[1].split(":")[0]
        == preview["outputs"]["database_writer_endpoint"]
    )
    readers = [u.split("@")[1].split(":")[0] for u in env["DATABASE_READ_URLS"].split(",") if u]
    assert readers == preview["outputs"]["database_reader_endpoints"]
    assert env["ENVIRONMENT"] == "production" and env["REDIS_URL"].startswith("rediss://")
    assert {"DATABASE_PASSWORD", "REDIS_PASSWORD", "BROKER_PASSWORD", "JWT_SECRET_KEY"} <= secrets


def test_data_stores_admit_only_the_service(preview: dict[str, Any]) -> None:
    rules = of_type(preview, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    for rule in rules:
        if rule["inputs"]["fromPort"] in (5432, 6379, 5671):
            assert rule["inputs"]["referencedSecurityGroupId"].endswith("-service-id"), rule["name"]
            assert "cidrIpv4" not in rule["inputs"]


BOOTSTRAP_STACKS = sorted(
    p.name[len("Pulumi.") : -len(".yaml")] for p in (INFRA / "bootstrap").glob("Pulumi.*.yaml")
)


@pytest.mark.parametrize("stack", BOOTSTRAP_STACKS)
def test_the_account_bootstrap_previews_with_its_policies(stack: str) -> None:
    """infra/bootstrap (OIDC provider, deploy roles, release repository) under the mocks."""
    command = ["preview", "--project", "bootstrap", "--stack", stack, "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "tenfold_infra", *command],
        cwd=INFRA,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode == 2 and "githubRepository" in done.stderr:
        pytest.skip("bootstrap/Pulumi.account.yaml has no githubRepository yet (copier answer)")
    if any(needs_alarm_email(s) for s in STACKS):
        pytest.skip("a prod stack has no alarmEmail yet: the bootstrap reads every stack's file")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # Each deploy role against what its stack's `pulumi up` needs, and names no stacks share.
    assert [p for p in result["policies"] if not p["passed"]] == []
    assert {"deploy-role-covers-stack", "physical-names-unique-across-stacks"} <= {
        p["name"] for p in result["policies"]
    }
    assert "imageRepositoryUrl" in result["outputs"]
