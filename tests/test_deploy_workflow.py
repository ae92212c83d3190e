"""The generated delivery pipeline: the tag built is the tag deployed and the tag rolled back to.

scripts/deploy runs here against a stand-in `pulumi` on PATH that records every call and
answers `stack output`, and scripts/smoke-check against a real HTTP server on 127.0.0.1 that
is ready or not. The workflows are read as YAML for what GitHub would run: OIDC only, no
`latest`, per-job permissions, one deploy per stack at a time.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import render

REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo-service"
PREVIOUS, NEW = f"{REPOSITORY}:1111111", f"{REPOSITORY}:2222222"

FAKE_PULUMI = """#!/usr/bin/env bash
# Records each call; answers `stack output NAME` from $FAKE_OUTPUTS/NAME.
echo "$*" >> "$FAKE_PULUMI_LOG"
if [ "$1 $2" = "stack output" ]; then cat "$FAKE_OUTPUTS/$3" 2>/dev/null || exit 1; fi
if [ "$1 $2" = "config set" ] && [ "$3" = image ]; then printf '%s' "$4" > "$FAKE_OUTPUTS/image"; fi
if [ "$1" = up ] && [ -e "$FAKE_OUTPUTS/up-fails" ]; then exit 255; fi
exit 0
"""

FAKE_AWS = """#!/usr/bin/env bash
# ECS as seen after the update: the app runs $FAKE_OUTPUTS/running-image if that file exists
# (a circuit-breaker rollback), else the image the stack config was last set to.
echo "aws $*" >> "$FAKE_PULUMI_LOG"
case "$2" in
  describe-services) echo "arn:aws:ecs:eu-west-1:123456789012:task-definition/demo-app:7" ;;
  describe-task-definition) cat "$FAKE_OUTPUTS/running-image" 2>/dev/null || cat "$FAKE_OUTPUTS/image" ;;
esac
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("deploy") / "demo-service", {"project_name": "Demo"})


class Readiness(BaseHTTPRequestHandler):
    """`/readyz` answers 200 or 503; the logged-in round trip is out of scope here."""

    ready = True

    def do_GET(self) -> None:
        status = 200 if self.ready and self.path == "/readyz" else 503
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "ready"}' if status == 200 else b'{"status": "unavailable"}')

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def site() -> Iterator[tuple[str, type[Readiness]]]:
    handler = type("Handler", (Readiness,), {"ready": True})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def deploy(
    service: Path,
    tmp_path: Path,
    url: str,
    image: str,
    *,
    previous: str | None,
    ecs_runs: str | None = None,
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir, outputs = tmp_path / "bin", tmp_path / "outputs"
    bin_dir.mkdir(exist_ok=True)
    outputs.mkdir(exist_ok=True)
    for name, script in (("pulumi", FAKE_PULUMI), ("aws", FAKE_AWS)):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    (outputs / "url").write_text(url)
    (outputs / "cluster_name").write_text("demo-dev")
    (outputs / "service_name").write_text("demo-dev-app")
    if ecs_runs:
        (outputs / "running-image").write_text(ecs_runs)
    if previous:
        (outputs / "image").write_text(previous)
    log = tmp_path / "pulumi.log"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_PULUMI_LOG": str(log),
        "FAKE_OUTPUTS": str(outputs),
        "SMOKE_TIMEOUT_SECONDS": "2",
        "GITHUB_OUTPUT": str(tmp_path / "github-output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    env.pop("SMOKE_EMAIL", None)
    done = subprocess.run(
        [str(service / "scripts" / "deploy"), "dev", image],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    calls = log.read_text().splitlines() if log.exists() else []
    return done, calls


def test_a_healthy_deploy_runs_the_new_image_and_keeps_it(
    service: Path, tmp_path: Path, site: tuple[str, type[Readiness]]
) -> None:
    url, _ = site
    done, calls = deploy(service, tmp_path, url, NEW, previous=PREVIOUS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [c for c in calls if not c.startswith("aws ")] == [
        "stack output image --stack dev",
        f"config set image {NEW} --stack dev",
        "up --yes --skip-preview --stack dev",
        "stack output url --stack dev",
        "stack output cluster_name --stack dev",
        "stack output service_name --stack dev",
    ]
    assert any("describe-services --cluster demo-dev --services demo-dev-app" in c for c in calls)
    outputs = (tmp_path / "github-output").read_text()
    assert f"deployed={NEW}" in outputs
    assert "rolled_back_to" not in outputs


def test_a_failed_smoke_check_puts_back_exactly_the_previous_image(
    service: Path, tmp_path: Path, site: tuple[str, type[Readiness]]
) -> None:
    url, handler = site
    handler.ready = False
    done, calls = deploy(service, tmp_path, url, NEW, previous=PREVIOUS)
    assert done.returncode == 1
    assert f"rolled back to {PREVIOUS}" in done.stderr
    assert calls[-2:] == [
        f"config set image {PREVIOUS} --stack dev",
        "up --yes --skip-preview --stack dev",
    ]
    assert f"config set image {NEW} --stack dev" in calls
    assert f"rolled_back_to={PREVIOUS}" in (tmp_path / "github-output").read_text()
    assert "FAILED (smoke check failed on" in (tmp_path / "summary.md").read_text()


def test_a_deploy_the_circuit_breaker_rolled_back_fails_and_resyncs_the_stack(
    service: Path, tmp_path: Path, site: tuple[str, type[Readiness]]
) -> None:
    """ECS is steady again on the old task definition and `pulumi up` said success: the
    running image gives it away, and the stack is put back on the previous image."""
    url, _ = site
    done, calls = deploy(service, tmp_path, url, NEW, previous=PREVIOUS, ecs_runs=PREVIOUS)
    assert done.returncode == 1
    assert f"does not run {NEW}: rolled back to {PREVIOUS}" in done.stderr
    assert calls[-2:] == [
        f"config set image {PREVIOUS} --stack dev",
        "up --yes --skip-preview --stack dev",
    ]


def test_a_first_deploy_that_fails_says_there_is_nothing_to_roll_back_to(
    service: Path, tmp_path: Path, site: tuple[str, type[Readiness]]
) -> None:
    url, handler = site
    handler.ready = False
    done, calls = deploy(service, tmp_path, url, NEW, previous=None)
    assert done.returncode == 1
    assert "no previous image to roll back to" in done.stderr
    assert [c for c in calls if c.startswith("up")] == ["up --yes --skip-preview --stack dev"]


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (f"{REPOSITORY}:latest", "tagged 'latest'"),
        (REPOSITORY, "has no tag"),
    ],
)
def test_a_mutable_image_reference_is_refused_before_anything_runs(
    service: Path, tmp_path: Path, image: str, reason: str
) -> None:
    done, calls = deploy(service, tmp_path, "http://127.0.0.1:9", image, previous=PREVIOUS)
    assert done.returncode == 1
    assert reason in done.stderr
    assert calls == []


def workflow(service: Path, name: str) -> dict[Any, Any]:
    loaded = yaml.safe_load((service / ".github" / "workflows" / name).read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_image_built_and_pushed_is_the_one_every_stack_deploys(service: Path) -> None:
    jobs = workflow(service, "deploy.yml")["jobs"]
    release = jobs["release"]
    image_step = next(s for s in release["steps"] if s.get("id") == "image")
    assert image_step["env"]["TAG"] == "${{ github.sha }}"
    build = next(s for s in release["steps"] if s.get("uses") == "./.github/actions/build-image")
    assert build["with"] == {"image": "${{ steps.image.outputs.image }}", "push": "true"}
    assert release["outputs"]["image"] == "${{ steps.image.outputs.image }}"
    for stack in ("deploy-dev", "deploy-prod"):
        assert jobs[stack]["with"]["image"] == "${{ needs.release.outputs.image }}"
        assert "release" in jobs[stack]["needs"]
    assert "deploy-dev" in jobs["deploy-prod"]["needs"], "prod only after dev passed"
    assert jobs["deploy-prod"]["with"]["environment"] == "production"
    step = next(
        s
        for s in workflow(service, "deploy-stack.yml")["jobs"]["deploy"]["steps"]
        if s.get("id") == "deploy"
    )
    assert step["run"] == 'scripts/deploy "$STACK" "$IMAGE"'
    assert step["env"]["IMAGE"] == "${{ inputs.image }}"


def test_two_deploys_of_one_stack_never_overlap(service: Path) -> None:
    job = workflow(service, "deploy-stack.yml")["jobs"]["deploy"]
    assert job["concurrency"] == {
        "group": "pulumi-deploy-${{ inputs.stack }}",
        "cancel-in-progress": False,
    }


def test_previews_never_replace_a_pending_deploy(service: Path) -> None:
    """GitHub keeps one pending job per concurrency group and a newer one replaces it: a
    preview in the deploys' group could drop a queued main -> dev deploy (and prod after it).
    Previews get a group per pull request and may cancel each other; deploys never are."""
    deploy_group = workflow(service, "deploy-stack.yml")["jobs"]["deploy"]["concurrency"]["group"]
    groups = {
        name: job["concurrency"]
        for name, job in workflow(service, "deploy.yml")["jobs"].items()
        if "concurrency" in job
    }
    assert set(groups) == {"preview-aws"}, "only the preview job has a group of its own"
    preview = groups["preview-aws"]
    assert preview["cancel-in-progress"] is True
    assert "github.event.pull_request.number" in preview["group"]
    assert preview["group"].split("${{")[0] != deploy_group.split("${{")[0]
    assert not preview["group"].startswith("pulumi-deploy-")


def test_a_first_prod_deploy_has_the_time_it_needs(service: Path) -> None:
    """A Multi-AZ database with replicas, an MQ cluster and a VPC origin take 15-30 minutes
    each: two hours, and AWS credentials that last as long (the deploy role's maximum)."""
    source = (service / "infra" / "tenfold_infra" / "deploy_role.py").read_text()
    match = re.search(r"^MAX_SESSION_SECONDS = (\d+) \* 3600$", source, re.MULTILINE)
    assert match, "deploy_role.MAX_SESSION_SECONDS is no longer a number of hours"
    max_session_seconds = int(match[1]) * 3600
    job = workflow(service, "deploy-stack.yml")["jobs"]["deploy"]
    assert job["timeout-minutes"] >= 120
    credentials = next(s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", ""))
    assert credentials["with"]["role-duration-seconds"] == max_session_seconds
    assert job["timeout-minutes"] * 60 <= max_session_seconds


def test_ecs_has_its_service_linked_role_before_the_first_deploy(service: Path) -> None:
    """hashicorp/terraform-provider-aws#15452: ECS makes the role on first use, too late."""
    steps = workflow(service, "deploy-stack.yml")["jobs"]["deploy"]["steps"]
    names = [s.get("name", s.get("uses", "")) for s in steps]
    linked = next(i for i, n in enumerate(names) if "service-linked role" in n)
    assert linked < next(i for i, s in enumerate(steps) if s.get("id") == "deploy")
    assert "create-service-linked-role --aws-service-name ecs.amazonaws.com" in steps[linked]["run"]
    assert "has been taken in this account" in steps[linked]["run"]


def test_the_pull_request_preview_uses_the_image_a_deploy_would(service: Path) -> None:
    """Without `image` the stack file describes a build and push that the deploy never does
    (it sets image to <IMAGE_REPOSITORY>:<commit SHA>): the preview sets the same."""
    steps = workflow(service, "deploy.yml")["jobs"]["preview-aws"]["steps"]
    image = next(i for i, s in enumerate(steps) if "pulumi config set image" in s.get("run", ""))
    preview = next(i for i, s in enumerate(steps) if s.get("with", {}).get("command") == "preview")
    assert image < preview
    assert steps[image]["env"]["REPOSITORY"] == "${{ vars.IMAGE_REPOSITORY }}"
    assert steps[image]["env"]["TAG"] == "${{ github.event.pull_request.head.sha }}"
    assert '"$REPOSITORY:$TAG" --stack dev' in steps[image]["run"]


def test_workflows_use_oidc_pinned_actions_and_per_job_permissions(service: Path) -> None:
    for path in sorted((service / ".github").rglob("*.yml")):
        text = path.read_text()
        assert not re.search(
            r"aws-access-key-id|aws-secret-access-key|AWS_SECRET_ACCESS_KEY", text
        ), path
        assert not re.search(r":latest\b|@latest\b|@main\b|@master\b", text), path
        # A full version (`@v5.0.0`), or the commit digest Renovate pins (`@<sha> # v5.0.0`).
        for action in re.findall(r"uses:\s*([^\s#]+)", text):
            if not action.startswith("./"):
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})", action), (
                    path,
                    action,
                )
    for name in ("deploy.yml", "deploy-stack.yml"):
        loaded = workflow(service, name)
        assert loaded["permissions"] == {}, f"{name}: nothing granted by default"
        for job_name, job in loaded["jobs"].items():
            assert "permissions" in job, f"{name}: job {job_name} states its permissions"
            if "aws-actions/configure-aws-credentials" in yaml.safe_dump(job):
                assert job["permissions"].get("id-token") == "write", job_name
                assert "environment" in job, f"{job_name}: the role trusts one environment"
