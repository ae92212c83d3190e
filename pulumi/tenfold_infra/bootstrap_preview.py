"""Offline preview of the bootstrap program (infra/bootstrap/), under the same mocks and policies.

`python -m tenfold_infra preview --project bootstrap --stack account` from infra/ prints the
resources, the policy findings and the outputs; nothing is deployed, no credentials needed.
It also previews each service stack the bootstrap serves (infra/Pulumi.<stack>.yaml) and
checks the deploy roles against them (policies/stacks.py): what each stack's `pulumi up`
needs, and that no two stacks share a name or a role's reach.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bootstrap_config import BootstrapConfig
from .config import ConfigError
from .policies import Finding, Resource, StackPlan, evaluate_stacks
from .preview import Captured, plan_json, policy_lines, run_program


@dataclass
class BootstrapPreview:
    config: BootstrapConfig
    resources: list[Captured]
    findings: list[Finding]
    outputs: dict[str, Any]

    @property
    def passed(self) -> bool:
        return all(f.passed for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        """The same shape as the service stack's preview JSON."""
        return plan_json(self.resources, self.findings, self.outputs)


def run_bootstrap_preview(directory: Path, stack: str) -> BootstrapPreview:
    """Run the bootstrap program of `directory` under mocks, then each service stack it serves
    (from directory's parent, infra/), and check them together (policies/stacks.py).
    ConfigError if a config is invalid."""
    from .bootstrap import build
    from .bootstrap_config import load_bootstrap_config

    result = BootstrapPreview(
        *run_program(directory, stack, lambda: load_bootstrap_config(directory), build)
    )
    bootstrap = [Resource(r.type, r.name, r.inputs) for r in result.resources]
    plans = {name: service_plan(directory.parent, name) for name in result.config.service_stacks}
    result.findings += evaluate_stacks(bootstrap, plans)
    return result


def service_plan(directory: Path, stack: str) -> StackPlan:
    """One service stack of `directory` (infra/), previewed under mocks."""
    from . import stack as stack_module
    from .config import load_config

    invokes: list[str] = []
    config, captured, _, _ = run_program(directory, stack, load_config, stack_module.build, invokes)
    resources = [Resource(r.type, r.name, r.inputs) for r in captured]
    return StackPlan(stack, config.region, resources, tuple(invokes))


def render_text(result: BootstrapPreview) -> str:
    c = result.config
    lines = [
        f"Offline preview of bootstrap stack {c.stack} (project {c.project}, region {c.region}, "
        f"repository {c.github_repository}): {len(result.resources)} resources, nothing deployed",
        "",
        "Resources",
    ]
    children: dict[tuple[str | None, str | None], list[Captured]] = {}
    for r in result.resources:
        children.setdefault((r.parent_type, r.parent), []).append(r)

    def walk(parent: tuple[str | None, str | None], depth: int) -> None:
        for r in children.get(parent, []):
            lines.append(f"{'  ' * depth}+ {r.type}  {r.name}")
            walk((r.type, r.name), depth + 1)

    walk((None, None), 1)
    lines += ["", "Policies", *policy_lines(result.findings)]
    lines += ["", "Outputs"]
    lines += [f"  {k}: {json.dumps(v)}" for k, v in sorted(result.outputs.items())]
    return "\n".join(lines)


def main(directory: Path, stack: str, as_json: bool) -> int:
    """The `--project bootstrap` branch of `python -m tenfold_infra preview`."""
    try:
        result = run_bootstrap_preview(directory, stack)
    except ConfigError as error:
        print(f"error: invalid bootstrap config: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_json(), indent=2) if as_json else render_text(result))
    if not result.passed:
        failed = ", ".join(f.name for f in result.findings if not f.passed)
        print(f"error: policy check failed: {failed}", file=sys.stderr)
        return 1
    return 0
