"""`copier update` brings template changes into a service and keeps the user's own work.

Two template versions are built in a temporary git repository (tags v1.0.0 and v1.1.0, the
second changing a generated file); a service is copied from v1.0.0 with an absolute template
path, edited and committed by its user, then updated to v1.1.0.
"""

import shutil
import subprocess
from pathlib import Path

import copier
import pytest
import yaml

from tests.conftest import TEMPLATE_ROOT, render

TEMPLATE_CHANGE = "## Changelog\n\nTemplate v1.1.0 adds this section.\n"
USER_SECTION = "## Our team's notes\n\nOn-call: #orders-oncall.\n"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def tracked_template_files() -> list[str]:
    listing = git(TEMPLATE_ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    return [name for name in listing.split("\0") if name and (TEMPLATE_ROOT / name).exists()]


@pytest.fixture(scope="module")
def template_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this template as v1.0.0, plus a v1.1.0 that changes the generated README."""
    repo = tmp_path_factory.mktemp("template-repo")
    for name in tracked_template_files():
        source, target = TEMPLATE_ROOT / name, repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(source.readlink())
        else:
            shutil.copy2(source, target)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "v1.0.0")
    git(repo, "tag", "v1.0.0")
    readme = repo / "template" / "README.md.jinja"
    readme.write_text(readme.read_text() + "\n" + TEMPLATE_CHANGE)
    git(repo, "commit", "-q", "-am", "Add a changelog section to the generated README")
    git(repo, "tag", "v1.1.0")
    return repo


def start_service(template: Path, destination: Path) -> Path:
    render(destination, {"project_name": "Order Service"}, src=template, vcs_ref="v1.0.0")
    git(destination, "init", "-q", "-b", "main")
    git(destination, "add", "-A")
    git(destination, "commit", "-q", "-m", "Start from tenfold v1.0.0")
    return destination


def update(service: Path) -> None:
    copier.run_update(
        service,
        defaults=True,
        overwrite=True,
        unsafe=True,
        quiet=True,
        vcs_ref="v1.1.0",
        conflict="inline",
    )


def answers_of(service: Path) -> dict[str, object]:
    return yaml.safe_load((service / ".copier-answers.yml").read_text())


def test_update_brings_the_template_change_and_keeps_user_edits(
    template_versions: Path, tmp_path: Path
) -> None:
    service = start_service(template_versions, tmp_path / "service")
    assert answers_of(service)["_src_path"] == str(template_versions)
    (service / "app" / "reports.py").write_text('"""Our own module."""\n')
    readme = service / "README.md"
    readme.write_text(USER_SECTION + "\n" + readme.read_text())
    git(service, "add", "-A")
    git(service, "commit", "-q", "-m", "Our edits")

    update(service)

    merged = readme.read_text()
    assert TEMPLATE_CHANGE in merged, "the template change did not arrive"
    assert merged.startswith(USER_SECTION), "the user's edit was lost"
    assert "<<<<<<<" not in merged
    assert (service / "app" / "reports.py").read_text() == '"""Our own module."""\n'
    assert answers_of(service)["_commit"] == "v1.1.0"


def test_conflicting_edit_is_marked_and_nothing_is_lost(
    template_versions: Path, tmp_path: Path
) -> None:
    service = start_service(template_versions, tmp_path / "service")
    readme = service / "README.md"
    # The user appends their own text exactly where v1.1.0 appends its section.
    readme.write_text(
        readme.read_text() + "\n## Changelog\n\nWe keep our changelog in CHANGES.md.\n"
    )
    (service / "CHANGES.md").write_text("# Changes\n")
    git(service, "add", "-A")
    git(service, "commit", "-q", "-m", "Our changelog")
    files_before = {p.relative_to(service) for p in service.rglob("*") if ".git" not in p.parts}

    update(service)

    merged = readme.read_text()
    assert "<<<<<<<" in merged, "the conflict was not marked"
    assert ">>>>>>>" in merged, "the conflict was not marked"
    assert "We keep our changelog in CHANGES.md." in merged, (
        "the user's side of the conflict was lost"
    )
    assert "Template v1.1.0 adds this section." in merged, (
        "the template's side of the conflict was lost"
    )
    files_after = {p.relative_to(service) for p in service.rglob("*") if ".git" not in p.parts}
    assert files_before <= files_after, (
        f"files lost by the update: {sorted(map(str, files_before - files_after))}"
    )
    answers = answers_of(service)
    assert answers["_commit"] == "v1.1.0"
    assert answers["project_name"] == "Order Service"
