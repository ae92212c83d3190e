"""Fixtures shared by the template's tests: render the template as a user does."""

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import copier
import pytest

from tests.answer_sets import ANSWER_SETS, AnswerSet

TEMPLATE_ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def render(
    destination: Path,
    answers: Mapping[str, Any],
    *,
    src: Path = TEMPLATE_ROOT,
    vcs_ref: str = "HEAD",
    **kwargs: Any,
) -> Path:
    """Render the template into `destination` with copier's defaults plus `answers`.

    The template path is absolute on purpose: copier stores it in the answers file, and a
    relative one breaks `copier update` later. The ref is HEAD unless a test names one:
    without a ref copier renders the newest release tag, not the checkout under test (HEAD
    also brings the checkout's uncommitted edits).
    """
    copier.run_copy(
        str(src.resolve()),
        destination,
        data=dict(answers),
        defaults=True,
        unsafe=True,
        quiet=True,
        vcs_ref=vcs_ref,
        **kwargs,
    )
    return destination


# What the template's own environment and `make test` set, which a service never sees.
OUTER_ENVIRONMENT = frozenset({"VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES"})


def service_env(python_version: str = "3.11", **extra: str) -> dict[str, str]:
    """Environment for running a rendered service's own commands.

    The template's own virtual environment must not leak into the service's, and uv must use
    the machine's Python (it cannot download one here). Services rendered for a newer Python
    are linted with the machine's 3.11 interpreter. The service's make runs as a user's
    would, not as a sub-make of `make test`: its output then has no "make[1]: Entering
    directory" lines, and the outer make's flags do not reach it.
    """
    env = {key: value for key, value in os.environ.items() if key not in OUTER_ENVIRONMENT}
    # uv from the template's environment: a shim (pyenv) would follow the service's
    # .python-version and fail for versions the machine does not have.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_PYTHON"] = "python3.11" if python_version != "3.11" else "python3"
    env.update(extra)
    return env


def run(
    cmd: list[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 900
) -> str:
    """Run a command and return its output; fail the test with that output if it fails."""
    result = subprocess.run(
        cmd,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(cmd)}` in {cwd} exited {result.returncode}:\n"
            f"{failure_excerpt(result.stdout)}\n--- stderr (end) ---\n{result.stderr[-2000:]}"
        )
    return output


def failure_excerpt(stdout: str, limit: int = 12_000) -> str:
    """A failed pytest run's FAILURES section (the tracebacks), else the end of stdout.

    Install noise goes to stderr and would otherwise be all a reader sees.
    """
    start = stdout.find("= FAILURES =")
    if start == -1:
        start = stdout.find("= ERRORS =")
    if start == -1:
        return stdout[-8000:]
    start = stdout.rfind("\n", 0, start) + 1
    return stdout[start : start + limit]


@pytest.fixture(scope="session")
def rendered_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Render every answer set once per session, lazily, keyed by answer-set id."""
    cache: dict[str, Path] = {}
    yield cache
    for path in cache.values():
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def render_answer_set(rendered_services: dict[str, Path], tmp_path_factory: pytest.TempPathFactory):
    def _render(answer_set: AnswerSet) -> Path:
        if answer_set.id not in rendered_services:
            destination = tmp_path_factory.mktemp(answer_set.id) / "service"
            rendered_services[answer_set.id] = render(destination, answer_set.answers)
        return rendered_services[answer_set.id]

    return _render


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "answer_set" in metafunc.fixturenames:
        # One xdist group per answer set: each service is rendered and installed by one worker.
        params = [
            pytest.param(a, id=a.id, marks=pytest.mark.xdist_group(a.id)) for a in ANSWER_SETS
        ]
        metafunc.parametrize("answer_set", params)
    if "testable_answer_set" in metafunc.fixturenames:
        testable = [a for a in ANSWER_SETS if a.runs_tests]
        params = [pytest.param(a, id=a.id, marks=pytest.mark.xdist_group(a.id)) for a in testable]
        metafunc.parametrize("testable_answer_set", params)


@pytest.fixture
def report_figures(record_property: Any) -> Any:
    """Call with lines of measured figures; `make test` prints them after the results.

    Recorded as a test property, so the figures reach the summary from xdist workers too
    (their output is not shown), and CI's log carries them without -rP's noise.
    """

    def report(*lines: str) -> None:
        record_property("figures", "\n".join(lines))

    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    sections = [
        (report.nodeid, value)
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if report.when == "call"
        for name, value in report.user_properties
        if name == "figures"
    ]
    if sections:
        terminalreporter.section("figures")
        for nodeid, text in sections:
            terminalreporter.write_line(f"{nodeid}:")
            for line in text.splitlines():
                terminalreporter.write_line(f"  {line}")
