"""The bootstrap program (infra/bootstrap/) of services rendered per answer set, previewed offline.

Each answer set is rendered with a GitHub repository, so the sample stack `account` is complete;
two more stacks are written next to it: `state` (the S3 + KMS state backend on) and `reuse`
(the account's existing GitHub OIDC provider reused by ARN).
"""

from __future__ import annotations

import functools
import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rendered_services import ANSWER_SETS, _workspaces, render, run_preview

GITHUB_REPOSITORY = "acme-corp/demo-service"
EXISTING_PROVIDER_ARN = (
    "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
)
EXTRA_STACKS: dict[str, dict[str, Any]] = {
    "state": {"stateBackend": True},
    "reuse": {"existingOidcProviderArn": EXISTING_PROVIDER_ARN},
}
STACKS = ("account", *EXTRA_STACKS)


@dataclass
class RenderedBootstrap:
    answers: dict[str, Any]
    root: Path
    previews: dict[str, dict[str, Any]]

    @property
    def directory(self) -> Path:
        return self.root / "infra" / "bootstrap"

    def resources(self, stack: str, type_: str) -> list[dict[str, Any]]:
        return [r for r in self.previews[stack]["resources"] if r["type"] == type_]


def run_bootstrap_preview(root: Path, stack: str, *extra: str) -> Any:
    return run_preview(root / "infra", stack, "--project", "bootstrap", *extra)


def write_stack(directory: Path, stack: str, overrides: dict[str, Any]) -> None:
    """Pulumi.<stack>.yaml: the sample `account` stack with `overrides` in the project's namespace."""
    project = yaml.safe_load((directory / "Pulumi.yaml").read_text())["name"]
    sample = yaml.safe_load((directory / "Pulumi.account.yaml").read_text())
    config = {**sample["config"], **{f"{project}:{k}": v for k, v in overrides.items()}}
    (directory / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))


@functools.cache
def bootstrap(answer_set: str) -> RenderedBootstrap:
    """Render once per answer set (with a repository) and preview every bootstrap stack."""
    answers = {**ANSWER_SETS[answer_set], "github_repository": GITHUB_REPOSITORY}
    _workspaces.append(Path(tempfile.mkdtemp(prefix=f"tenfold-bootstrap-{answer_set}-")))
    root = render(_workspaces[-1] / "demo-service", answers)
    for stack, overrides in EXTRA_STACKS.items():
        write_stack(root / "infra" / "bootstrap", stack, overrides)

    def preview(stack: str) -> dict[str, Any]:
        done = run_bootstrap_preview(root, stack, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=2) as pool:
        previews = dict(zip(STACKS, pool.map(preview, STACKS), strict=True))
    return RenderedBootstrap(answers, root, previews)
