"""Services rendered from this template, once per answer set, with their offline previews."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]  # absolute: copier stores it in .copier-answers.yml
sys.path.insert(0, str(REPO / "pulumi"))

ANSWER_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    # mx-central-1 opened after August 2022: ALB logs are delivered by the service principal only.
    "lean-redis-no-cdn": {
        "read_replicas": 0,
        "cdn": False,
        "broker": "redis",
        "aws_region": "mx-central-1",
    },
    "domain-3-replicas": {
        "domain_name": "api.example.com",
        "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
        "read_replicas": 3,
        "aws_region": "us-east-1",
    },
    # The longest slug copier accepts (40): every length-limited AWS name must still fit.
    "long-slug-redis-3-replicas": {
        "project_slug": "order-fulfilment-and-settlement-platform",
        "read_replicas": 3,
        "broker": "redis",
    },
    # The edge at its fullest: a domain on the CDN and the ALB, and the most replicas.
    "domain-cdn-5-replicas": {
        "domain_name": "shop.example.org",
        "hosted_zone_id": "Z0ABCDEFGHIJKLMNOPQRS",
        "read_replicas": 5,
        "aws_region": "eu-central-1",
    },
}


@dataclass
class Rendered:
    answers: dict[str, Any]
    root: Path
    previews: dict[str, dict[str, Any]]

    @property
    def infra(self) -> Path:
        return self.root / "infra"

    def resources(self, stack: str, type_: str) -> list[dict[str, Any]]:
        return [r for r in self.previews[stack]["resources"] if r["type"] == type_]

    def one(self, stack: str, type_: str, name_suffix: str = "") -> dict[str, Any]:
        found = [r for r in self.resources(stack, type_) if r["name"].endswith(name_suffix)]
        assert len(found) == 1, f"{type_} *{name_suffix}: {[r['name'] for r in found]}"
        return found[0]


def run_preview(infra: Path, stack: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tenfold_infra", "preview", "--stack", stack, *extra],
        cwd=infra,
        capture_output=True,
        text=True,
        timeout=300,
    )


def render(destination: Path, answers: dict[str, Any]) -> Path:
    from copier import run_copy

    run_copy(
        str(REPO),
        str(destination),
        data={"project_name": "Demo Service", "alarm_email": "oncall@example.com", **answers},
        defaults=True,
        unsafe=True,
        vcs_ref="HEAD",
        quiet=True,
    )
    return destination


_workspaces: list[Path] = []


def remove_renders() -> None:
    for workspace in _workspaces:
        shutil.rmtree(workspace, ignore_errors=True)


@functools.cache
def rendered(answer_set: str) -> Rendered:
    """Render once per answer set and preview dev and prod side by side (one per core)."""
    answers = ANSWER_SETS[answer_set]
    _workspaces.append(Path(tempfile.mkdtemp(prefix=f"tenfold-{answer_set}-")))
    root = render(_workspaces[-1] / "demo-service", answers)

    def preview(stack: str) -> dict[str, Any]:
        done = run_preview(root / "infra", stack, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=2) as pool:
        previews = dict(zip(("dev", "prod"), pool.map(preview, ("dev", "prod")), strict=False))
    defaults = {
        "read_replicas": 1,
        "cdn": True,
        "broker": "rabbitmq",
        "aws_region": "eu-west-1",
        "domain_name": "",
    }
    return Rendered({**defaults, **answers}, root, previews)
