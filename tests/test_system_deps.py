"""`make system-deps` (template/scripts/system-deps): only what is missing, resolved by apt first.

A fresh CI machine once failed in its first second: the install line asked apt for every
package on a list, Debian's npm included, and the machine's NodeSource Node.js conflicts with
it. These tests resolve, with `apt-get install -s`, exactly what the step would install.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "template" / "scripts" / "system-deps"


def ci_groups() -> list[str]:
    """The groups `make system-deps` (which .ci/run calls) installs."""
    match = re.search(r"^SYSTEM_DEPS := (.+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert match, "the Makefile names the system-deps groups in SYSTEM_DEPS"
    return match.group(1).split()


def system_deps(*args: str, pretend_missing: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYSTEM_DEPS_PRETEND_MISSING": pretend_missing}
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def command_packages(groups: list[str]) -> dict[str, str]:
    done = system_deps("--map", *groups)
    assert done.returncode == 0, done.stderr
    return dict(line.split() for line in done.stdout.splitlines())


def debian_package_installed(package: str) -> bool:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() == "install ok installed"


def test_ci_installs_through_make_system_deps() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert "make --no-print-directory system-deps" in ci
    assert "apt-get install" not in ci, ".ci/run installs only through scripts/system-deps"


def test_only_missing_commands_are_asked_for() -> None:
    done = system_deps("--print", *ci_groups(), pretend_missing="haproxy h2load")
    assert done.returncode == 0, done.stderr
    printed = done.stdout.split()
    assert len(printed) == len(set(printed)), "each package once"
    assert set(printed) == {
        package
        for command, package in command_packages(ci_groups()).items()
        if command in ("haproxy", "h2load") or not _present(command)
    }
    assert {"haproxy", "nghttp2-client"} <= set(printed)
    if shutil.which("npm") and shutil.which("node"):
        assert not {"npm", "nodejs"} & set(printed), "a present command is never asked for"


def _present(command: str) -> bool:
    if command == "initdb":
        return bool(list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))) or bool(
            shutil.which("initdb")
        )
    return shutil.which(command) is not None


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="not a Debian or Ubuntu machine")
def test_apt_resolves_what_a_fresh_machine_of_this_kind_would_install() -> None:
    """Every command whose Debian package is installed here counts as missing, as on a fresh
    machine; commands that came from elsewhere (npm with NodeSource's nodejs) stay present."""
    packages = command_packages(ci_groups())
    fresh = [c for c, p in packages.items() if debian_package_installed(p) or not _present(c)]
    done = system_deps("--simulate", *ci_groups(), pretend_missing=" ".join(fresh))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "apt resolves" in done.stdout


def _nodejs_from_nodesource() -> bool:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "nodejs"], capture_output=True, text=True, check=False
    )
    return "nodesource" in done.stdout


@pytest.mark.skipif(not _nodejs_from_nodesource(), reason="Node.js does not come from NodeSource")
def test_a_package_apt_refuses_is_named_with_apts_reason_and_nothing_is_installed() -> None:
    done = system_deps("--simulate", "node", pretend_missing="npm")
    assert done.returncode == 1
    assert "apt refuses package npm (for command npm)" in done.stderr
    assert "Conflicts" in done.stderr


def test_bad_usage_says_what_is_allowed() -> None:
    unknown = system_deps("tools", "compilers")
    assert unknown.returncode == 1
    assert "unknown group 'compilers'; groups: tools node servers" in unknown.stderr
    assert "name at least one group" in system_deps().stderr


def test_the_generated_service_installs_the_same_way() -> None:
    makefile = (REPO / "template" / "Makefile").read_text()
    assert re.search(r"^system-deps:.*\n\tscripts/system-deps ", makefile, re.MULTILINE)
    # The local servers' orchestrator names `make system-deps` for whatever is missing.
    topology = "".join(path.read_text() for path in (REPO / "template" / "topology").glob("*.py"))
    assert "apt-get install" not in topology
    assert "make system-deps" in topology
