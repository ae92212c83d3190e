"""Render the template with each answer set and run what the user will run."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.answer_sets import AnswerSet
from tests.conftest import TEMPLATE_ROOT, run, service_env

# Jinja left behind by a missing `.jinja` suffix or a typo: `{{ name }}`, `{{ name | filter }}`,
# `{% if ... %}`, `{# ... #}`. Python f-strings and regexes legitimately contain `{{`, and
# GitHub Actions' `${{ ... }}` expressions are not Jinja, so neither counts.
UNRENDERED_JINJA = re.compile(
    r"(?<!\$)\{\{-?\s*[A-Za-z_][\w.]*\s*(?:\|[^}]*)?-?\}\}"
    r"|\{%-?\s*(?:if|elif|else|endif|for|endfor|set|raw|endraw|include|macro|block)\b"
    r"|\{#-?\s"
)


def text_files(root: Path) -> list[Path]:
    skipped_dirs = {".venv", ".git", "node_modules", ".mypy_cache", ".ruff_cache", "__pycache__"}
    files = []
    for path in root.rglob("*"):
        if path.is_file() and not skipped_dirs.intersection(path.relative_to(root).parts):
            try:
                path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            files.append(path)
    return files


def test_no_unrendered_jinja(answer_set: AnswerSet, render_answer_set) -> None:
    service = render_answer_set(answer_set)
    leftovers = [
        f"{path.relative_to(service)}:{number}: {line.strip()}"
        for path in text_files(service)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if UNRENDERED_JINJA.search(line)
    ]
    assert not leftovers, "unrendered Jinja in the generated service:\n" + "\n".join(leftovers)
    assert not list(service.rglob("*.jinja")), "a .jinja file was copied instead of rendered"


def test_answers_file_records_answers_and_absolute_source(
    answer_set: AnswerSet, render_answer_set
) -> None:
    service = render_answer_set(answer_set)
    answers = yaml.safe_load((service / ".copier-answers.yml").read_text())
    assert Path(answers["_src_path"]) == TEMPLATE_ROOT
    for name, value in answer_set.answers.items():
        assert answers[name] == value, name
    assert set(answers) >= {
        "project_name",
        "project_slug",
        "python_version",
        "aws_region",
        "read_replicas",
        "cdn",
        "broker",
    }


def test_service_package_and_infra_are_real_files(answer_set: AnswerSet, render_answer_set) -> None:
    service = render_answer_set(answer_set)
    assert (service / "app" / "main.py").is_file()
    infra_library = service / "infra" / "tenfold_infra"
    assert infra_library.is_dir(), "the Pulumi library must be vendored"
    assert not infra_library.is_symlink(), "the Pulumi library must be vendored"
    assert (infra_library / "__init__.py").is_file()


def test_python_version_drives_the_runtime(answer_set: AnswerSet, render_answer_set) -> None:
    service = render_answer_set(answer_set)
    version = answer_set.python_version
    assert (service / ".python-version").read_text().strip() == version
    assert f"python:{version}-slim" in (service / "Dockerfile").read_text()
    pyproject = (service / "pyproject.toml").read_text()
    assert f'target-version = "py{version.replace(".", "")}"' in pyproject
    assert f'python_version = "{version}"' in pyproject


@pytest.mark.slow
def test_generated_lint_format_and_type_checks_pass(
    answer_set: AnswerSet, render_answer_set
) -> None:
    service = render_answer_set(answer_set)
    run(["make", "lint"], cwd=service, env=service_env(answer_set.python_version))


@pytest.mark.slow
def test_generated_test_suite_passes(testable_answer_set: AnswerSet, render_answer_set) -> None:
    """Services rendered for Python 3.12 and 3.13 are not collected here: the machines have 3.11."""
    answer_set = testable_answer_set
    service = render_answer_set(answer_set)
    # Unit tests on the embedded defaults; the integration suite runs once, in test_integration.
    env = service_env(answer_set.python_version)
    env.pop("CI", None)
    for name in [key for key in env if key.startswith("TEST_")]:
        env.pop(name)
    output = run(["make", "test"], cwd=service, env=env)
    assert re.search(r"\b\d+ passed\b", output), output[-2000:]
    assert " failed" not in output


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_stack_previews_offline_with_every_policy_passing(
    answer_set: AnswerSet, render_answer_set, stack: str
) -> None:
    """What `make preview` runs, on each answer set: exit 0 means every policy passed."""
    infra = render_answer_set(answer_set) / "infra"
    done = subprocess.run(
        [sys.executable, "-m", "tenfold_infra", "preview", "--stack", stack, "--json"],
        cwd=infra,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:] or done.stdout[-3000:]
    preview = json.loads(done.stdout)
    failed = [p["name"] for p in preview["policies"] if not p["passed"]]
    assert failed == []
    assert len(preview["policies"]) >= 20
