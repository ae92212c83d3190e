"""The architecture picture follows the stack, and `--out DIR` writes every preview file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rendered_services import Rendered
from tenfold_infra.diagram import Architecture, JsonResource, architecture

STACKS = ("dev", "prod")
HAS_DOT = shutil.which("dot") is not None


def picture(service: Rendered, stack: str) -> Architecture:
    return architecture(JsonResource.all(service.previews[stack]), f"demo {stack}")


def preview_out(service: Rendered, stack: str, out: Path, path: str | None = None):
    env = None if path is None else {"PATH": path}
    return subprocess.run(
        [sys.executable, "-m", "tenfold_infra", "preview", "--stack", stack, "--out", str(out)],
        cwd=service.infra,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("stack", STACKS)
def test_the_picture_follows_the_stack(service: Rendered, stack: str) -> None:
    arch = picture(service, stack)
    replicas = service.answers["read_replicas"] if stack == "prod" else 0
    assert [n.id for n in arch.nodes if n.id.startswith("replica-")] == [
        f"replica-{i}" for i in range(1, replicas + 1)
    ]
    pairs = {(e.source, e.target) for e in arch.edges}
    for number in range(1, replicas + 1):
        assert ("db", f"replica-{number}") in pairs
        assert ("app", f"replica-{number}") in pairs
    assert arch.has("cdn") is bool(service.answers["cdn"])
    assert arch.has("static") is bool(service.answers["cdn"])
    assert arch.has("mq") is (service.answers["broker"] == "rabbitmq")
    # Jobs travel through Amazon MQ, or through the cache when the broker is Redis.
    queue = "mq" if arch.has("mq") else "cache"
    assert ("app", queue) in {(e.source, e.target) for e in arch.edges if e.label == "jobs"}
    assert (queue, "worker") in {(e.source, e.target) for e in arch.edges if e.label == "jobs"}
    # The way in: users reach CloudFront when there is one, the load balancer otherwise.
    entry = "cdn" if arch.has("cdn") else "alb"
    assert any(e.source == "users" and e.target == entry for e in arch.edges)
    assert arch.label_of("db").endswith("Multi-AZ" if stack == "prod" else "single-AZ")
    private = "Private subnets"
    groups = {g.id: g.label for g in arch.groups}
    assert all(
        groups[n.group].startswith(private)
        for n in arch.nodes
        if n.id in ("db", "cache", "mq") or n.id.startswith("replica-")
    )
    assert all(e.source in {n.id for n in arch.nodes} for e in arch.edges)
    assert all(e.target in {n.id for n in arch.nodes} for e in arch.edges)


def test_the_summary_names_every_node_and_connection(default_service: Rendered) -> None:
    arch = picture(default_service, "prod")
    summary = arch.summary()
    for node in arch.nodes:
        assert node.label.split("\n")[0] in summary
    arrows = summary.split("Arrows", 1)[1]
    assert arrows.count("\n- ") == len(arch.edges)
    assert "Read replica 1" in summary
    assert "Read replica 2" not in summary


def test_out_writes_the_plan_the_json_the_mermaid_and_the_picture(
    default_service: Rendered, tmp_path: Path
) -> None:
    out = tmp_path / "build" / "preview" / "prod"
    done = preview_out(default_service, "prod", out)
    assert done.returncode == 0, done.stderr
    assert (out / "plan.txt").read_text().startswith("Offline preview of stack prod")
    written = json.loads((out / "preview.json").read_text())

    # Resources register concurrently: the same set, not always in the same order.
    def key(resource: dict) -> tuple[str, str]:
        return resource["type"], resource["name"]

    assert sorted(written["resources"], key=key) == sorted(
        default_service.previews["prod"]["resources"], key=key
    )
    assert (out / "architecture.mmd").read_text().startswith("flowchart LR")
    described = (out / "architecture.txt").read_text()
    title = described.splitlines()[0]
    assert title.endswith(" prod")
    assert described == architecture(JsonResource.all(written), title).summary() + "\n"
    if HAS_DOT:
        assert (out / "architecture.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        svg = (out / "architecture.svg").read_text()
        assert "Read replica 1" in svg
        assert "CloudFront" in svg
        assert f"wrote {out / 'architecture.png'}" in done.stderr
    else:
        assert "architecture picture skipped" in done.stderr


def test_without_graphviz_the_preview_succeeds_and_says_how_to_get_the_picture(
    default_service: Rendered, tmp_path: Path
) -> None:
    done = preview_out(default_service, "dev", tmp_path, path=str(tmp_path / "no-bin"))
    assert done.returncode == 0, done.stderr
    assert "architecture picture skipped" in done.stderr
    assert "apt-get install graphviz" in done.stderr
    assert (tmp_path / "plan.txt").is_file()
    assert (tmp_path / "architecture.mmd").is_file()
    assert not (tmp_path / "architecture.png").exists()


def test_the_picture_shows_the_deploy_path_when_the_stack_has_it() -> None:
    """WAF, VPC origin, ECR + image build, the migrate container and the alarm email."""
    task = {
        "containerDefinitions": json.dumps(
            [{"name": "migrate"}, {"name": "app", "dependsOn": [{"containerName": "migrate"}]}]
        ),
        "family": "svc-app",
    }
    resources = [
        JsonResource("aws:ec2/vpc:Vpc", "svc-vpc", {"cidrBlock": "10.0.0.0/16"}),
        JsonResource("aws:ec2/subnet:Subnet", "svc-public-1", {"availabilityZone": "eu-west-1a"}),
        JsonResource("aws:ec2/subnet:Subnet", "svc-private-1", {"availabilityZone": "eu-west-1a"}),
        JsonResource("aws:cloudfront/distribution:Distribution", "svc-cdn", {}),
        JsonResource("aws:cloudfront/vpcOrigin:VpcOrigin", "svc-origin", {}),
        JsonResource("aws:wafv2/webAcl:WebAcl", "svc-waf", {"scope": "CLOUDFRONT"}),
        JsonResource("aws:lb/loadBalancer:LoadBalancer", "svc-alb", {"internal": True}),
        JsonResource("aws:ecs/taskDefinition:TaskDefinition", "svc-app", task),
        JsonResource(
            "aws:ecs/service:Service",
            "svc-app",
            {"loadBalancers": [{"containerName": "app"}], "taskDefinition": "arn:svc-app"},
        ),
        JsonResource("aws:rds/instance:Instance", "svc-primary", {"multiAz": True}),
        JsonResource(
            "aws:ecr/repository:Repository",
            "svc-images",
            {
                "imageTagMutability": "IMMUTABLE",
                "imageScanningConfiguration": {"scanOnPush": True},
            },
        ),
        JsonResource("docker-build:index:Image", "svc-image", {}),
        JsonResource("aws:s3/bucket:Bucket", "svc-static", {}),
        JsonResource("aws:s3/bucketObjectv2:BucketObjectv2", "svc-static-app.css", {}),
        JsonResource("aws:sns/topic:Topic", "svc-alarms", {}),
        JsonResource(
            "aws:sns/topicSubscription:TopicSubscription", "svc-oncall", {"protocol": "email"}
        ),
    ]
    arch = architecture(resources, "svc prod")
    edges = {(e.source, e.target): e.label for e in arch.edges}
    groups = {n.id: n.group for n in arch.nodes}
    assert groups["waf"] == "edge"
    assert groups["alb"] == "private"  # internal, reached through the VPC origin
    assert edges[("cdn", "alb")] == "API via VPC origin (private)"
    assert ("waf", "cdn") in edges
    assert edges[("migrate", "app")].startswith("SUCCESS")
    assert edges[("migrate", "db")] == "schema"
    assert edges[("build", "ecr")] == "push"
    assert ("ecr", "app") in edges
    assert arch.label_of("ecr") == "ECR repository\nimmutable tags, scan on push"
    assert arch.label_of("static") == "S3 static assets\n1 file uploaded"
    assert edges[("alarms", "on-call")] == "email"
    assert not arch.has("mq")
    assert not arch.has("worker")
