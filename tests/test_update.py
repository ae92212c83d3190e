"""`copier update` brings template changes into a service and keeps the user's own work.

Two template versions are built in a temporary git repository (tags v1.0.0 and v1.1.0, the
second changing a generated file); a service is copied from v1.0.0 with an absolute template
path, edited and committed by its user, then updated to v1.1.0.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import copier
import pytest
import yaml

from tests.conftest import TEMPLATE_ROOT, render, run, service_env

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


# --- Across the regrouping of app/ (issue 12) -----------------------------------------------

# The last template commit before app/ was regrouped by concern.
BEFORE_MOVE = "5de5016"
# Moved modules the user leaves alone: the update must simply move them.
UNTOUCHED_MOVES = {
    "app/logging.py": "app/observability/logging.py",
    "app/metrics.py": "app/observability/metrics.py",
    "app/fieldsets.py": "app/schemas/fieldsets.py",
    "app/pagination.py": "app/db/pagination.py",
    "app/redis_store.py": "app/stores/redis.py",
}
# (moved module, its new path, the template's line the user edits, the user's version of it)
EDIT_MERGED = (
    "app/ttl_store.py",
    "app/stores/memory.py",
    "self, *, sweep_every: int = 1000,",
    "self, *, sweep_every: int = 250,",
)
EDITS_CONFLICTING = [
    (
        # The template moved resources_of out of this module (to app/api/deps.py).
        "app/state.py",
        "app/resources.py",
        '    return cast("Resources", request.app.state.resources)',
        "    # Ours: the hook for per-tenant resources.\n"
        '    return cast("Resources", request.app.state.resources)',
    ),
    (
        # ... and public_cache_control out of this one (to app/api/deps.py too).
        "app/http_cache.py",
        "app/http/cache_control.py",
        'f"s-maxage={settings.cdn_s_maxage_seconds}"',
        'f"s-maxage={settings.cdn_s_maxage_seconds}, stale-while-revalidate=30"',
    ),
]
# The service's tests that exercise the moved modules (the whole suite takes minutes more).
MOVED_MODULE_TESTS = [
    "tests/test_cache.py",
    "tests/test_sessions.py",
    "tests/test_cdn.py",
    "tests/test_observability.py",
    "tests/test_lean_http.py",
    "tests/test_worker_health.py",
]


def resolve_taking_the_template_side(path: Path) -> None:
    """What a user does with a conflict whose code moved elsewhere: keep the new side."""
    kept, side = [], "both"
    for line in path.read_text().splitlines(keepends=True):
        if line.startswith("<<<<<<< "):
            side = "ours"
        elif line.startswith("=======") and side == "ours":
            side = "theirs"
        elif line.startswith(">>>>>>> "):
            side = "both"
        elif side != "ours":
            kept.append(line)
    path.write_text("".join(kept))


@pytest.fixture(scope="module")
def service_across_the_move(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A service rendered before the move, edited and committed, then updated to HEAD."""
    try:
        git(TEMPLATE_ROOT, "cat-file", "-e", f"{BEFORE_MOVE}^{{commit}}")
    except subprocess.CalledProcessError:
        pytest.fail(
            f"commit {BEFORE_MOVE} is missing: this test needs the template's git history "
            "(in a shallow clone run `git fetch --unshallow`)"
        )
    service = tmp_path_factory.mktemp("moved") / "service"
    render(service, {"alarm_email": "oncall@example.com"}, vcs_ref=BEFORE_MOVE)
    git(service, "init", "-q", "-b", "main")
    git(service, "add", "-A")
    git(service, "commit", "-q", "-m", "Start from tenfold before the move")
    for old, _new, line, edited in [EDIT_MERGED, *EDITS_CONFLICTING]:
        module = service / old
        assert line in module.read_text(), f"{old} no longer has the line this test edits"
        module.write_text(module.read_text().replace(line, edited))
    git(service, "commit", "-q", "-am", "Our edits")

    head = git(TEMPLATE_ROOT, "rev-parse", "HEAD").strip()
    result = subprocess.run(
        [
            sys.executable, "-m", "copier", "update",
            "--trust", "--defaults", "--vcs-ref", head,
        ],
        cwd=service,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return service, result.stderr


def test_untouched_moved_modules_move(service_across_the_move: tuple[Path, str]) -> None:
    service, _ = service_across_the_move
    head = git(TEMPLATE_ROOT, "rev-parse", "HEAD").strip()
    for old, new in UNTOUCHED_MOVES.items():
        assert not (service / old).exists(), f"{old} stayed behind"
        template_version = git(TEMPLATE_ROOT, "show", f"{head}:template/{new}")
        assert (service / new).read_text() == template_version, f"{new} is not the template's"


def test_edits_in_moved_modules_are_merged_or_marked_never_lost(
    service_across_the_move: tuple[Path, str],
) -> None:
    service, output = service_across_the_move
    old, new, _line, edited = EDIT_MERGED
    merged = (service / new).read_text()
    assert edited in merged, f"the user's edit of {old} did not reach {new}"
    assert "<<<<<<<" not in merged
    assert f"{old} -> {new}: your edits were merged" in output

    unmerged = git(service, "diff", "--name-only", "--diff-filter=U").split()
    for old, new, _line, edited in EDITS_CONFLICTING:
        text = (service / new).read_text()
        assert "<<<<<<< before updating" in text, f"the edit of {old} is not marked in {new}"
        assert ">>>>>>> after updating" in text
        assert edited in text, f"the user's side of the {old} conflict was lost"
        assert new in unmerged, f"{new} is not unmerged in git's index"
        assert f"{old} -> {new}: CONFLICT" in output


def test_the_updated_service_passes_its_checks(
    service_across_the_move: tuple[Path, str],
) -> None:
    service, _ = service_across_the_move
    for _old, new, _line, _edited in EDITS_CONFLICTING:
        resolve_taking_the_template_side(service / new)
    git(service, "add", "-A")
    git(service, "commit", "-q", "-m", "Update to the regrouped app/")
    env = service_env()
    run(["make", "lint"], cwd=service, env=env)
    run(
        ["uv", "run", "pytest", "-q", "-p", "no:cacheprovider", *MOVED_MODULE_TESTS],
        cwd=service,
        env=env,
    )
