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
