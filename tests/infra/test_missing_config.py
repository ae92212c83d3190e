"""A required key left unset: the offline preview shows the plan first, `pulumi up` refuses at once.

A service rendered with copier's default answers has no alarm address, which prod requires.
`make preview STACK=prod` still prints the plan, its cost and its diagram, then fails with
the message and exit status an invalid config has. The program `pulumi up` runs
(infra/__main__.py) raises that error before it declares a single resource.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from rendered_services import render
from tenfold_infra.config import ConfigError, parse_config
from tenfold_infra.preview import read_stack_config

from tests.conftest import service_env

# infra/__main__.py as the Pulumi CLI runs it, under the SDK's mocks, with the stack's config.
PULUMI_UP = """
import json, runpy
from pathlib import Path

import pulumi
from pulumi.runtime.config import set_all_config
from tenfold_infra.config import ConfigError
from tenfold_infra.preview import read_stack_config

project, values = read_stack_config(Path("."), "prod")
set_all_config(values)
declared = []


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        declared.append(args.typ)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args):
        return {}


pulumi.runtime.set_mocks(Mocks(), project=project, stack="prod", preview=False)
try:
    runpy.run_path("__main__.py", run_name="__main__")
except ConfigError as error:
    print(json.dumps({"error": str(error), "declared": declared}))
else:
    print(json.dumps({"error": None, "declared": declared}))
"""


@pytest.fixture(scope="module")
def default_answers_service() -> Iterator[Path]:
    """Copier's defaults: the forced name and alarm address of `render` put back to them."""
    with tempfile.TemporaryDirectory(prefix="tenfold-defaults-") as workspace:
        yield render(
            Path(workspace) / "my-service", {"project_name": "My Service", "alarm_email": ""}
        )


def refusal(infra: Path) -> str:
    """The ConfigError the stack's config gets where every required key is checked."""
    project, values = read_stack_config(infra, "prod")
    raw = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith(f"{project}:")}
    with pytest.raises(ConfigError, match=r":alarmEmail is required in prod") as refused:
        parse_config(project, "prod", raw, values.get("aws:region"))
    return str(refused.value)


def test_make_preview_shows_plan_cost_and_diagram_then_fails_on_the_missing_key(
    default_answers_service: Path,
) -> None:
    message = refusal(default_answers_service / "infra")
    done = subprocess.run(
        ["make", "preview", "STACK=prod"],
        cwd=default_answers_service,
        env=service_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # The preview's own exit status (make reports it), and its message, as before the plan
    # was shown first: what a script calling the preview sees did not change.
    assert "preview] Error 2" in done.stderr, done.stderr[-3000:]
    assert f"error: invalid stack config: {message}\n" in done.stderr
    plan = done.stdout
    cost = re.search(r"^Cost\b", plan, re.MULTILINE)
    assert cost, plan[-3000:]
    sections = [
        plan.index("\nResources\n"),
        cost.start(),
        plan.index("\nDiagram (Mermaid)\n```mermaid\nflowchart LR"),
        plan.index(f"\nConfig\n  FAIL {message}\n"),
    ]
    assert sections == sorted(sections), "the missing key is reported after the plan"
    assert plan.rstrip().endswith(f"FAIL {message}")
    assert re.search(r"^ +\+ aws:rds/instance:Instance  ", plan, re.MULTILINE)
    written = default_answers_service / "build" / "preview" / "prod"
    assert (written / "plan.txt").read_text().rstrip().endswith(f"FAIL {message}")
    assert json.loads((written / "preview.json").read_text())["missing_config"] == [message]


def test_json_preview_carries_the_plan_and_the_missing_key(default_answers_service: Path) -> None:
    infra = default_answers_service / "infra"
    done = subprocess.run(
        [sys.executable, "-m", "tenfold_infra", "preview", "--stack", "prod", "--json"],
        cwd=infra,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2
    preview = json.loads(done.stdout)
    assert preview["missing_config"] == [refusal(infra)]
    assert len(preview["resources"]) > 100
    assert preview["cost"] is not None
    assert preview["diagram"].startswith("flowchart LR")
    assert done.stderr.rstrip().endswith(f"error: invalid stack config: {refusal(infra)}")


def test_pulumi_up_refuses_before_declaring_any_resource(default_answers_service: Path) -> None:
    infra = default_answers_service / "infra"
    done = subprocess.run(
        [sys.executable, "-c", PULUMI_UP],
        cwd=infra,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == {"error": refusal(infra), "declared": []}
