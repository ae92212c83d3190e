"""`copier update` between released versions of the template keeps the user's own work.

The versions are real tags in a temporary clone of this repository (tests/template_versions.py):
each release CHANGELOG.md records, on its commit, and the checkout as the next release. So
copier prints real versions, records them in `_commit`, and runs the migrations keyed to the
versions an update crosses, as it does for a team updating from the published repository.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from release.changelog import next_versions, read
from tests.conftest import run, service_env
from tests.template_versions import TemplateClone, commit_all, git, update

TEMPLATE_CHANGE = "## Changelog\n\nA later release adds this section.\n"
USER_SECTION = "## Our team's notes\n\nOn-call: #orders-oncall.\n"
# The version whose migration carries edits of moved modules (copier.yml, _migrations).
MOVE_VERSION = "0.4.0"


def answers_of(service: Path) -> dict[str, object]:
    return yaml.safe_load((service / ".copier-answers.yml").read_text())


def updated(service: Path, ref: str) -> str:
    """Update `service` to `ref`; copier's output, or the test fails with it."""
    result = update(service, ref, "--conflict", "inline")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stderr


@dataclass(frozen=True)
class Releases:
    clone: TemplateClone
    tip: str
    """The checkout, tagged as the next release."""
    patch: str
    """A later release that adds a section to the generated README."""


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    clone = TemplateClone.of_checkout(tmp_path_factory.mktemp("template") / "tenfold")
    tip = clone.tag_releases()
    clone.change(
        "Add a changelog section to the generated README",
        {"template/README.md.jinja": lambda text: f"{text}\n{TEMPLATE_CHANGE}"},
    )
    return Releases(clone, tip, clone.tag(next_versions(tip)[0]))


def start_service(releases: Releases, destination: Path) -> Path:
    return releases.clone.render(destination, {"project_name": "Order Service"}, f"v{releases.tip}")


def test_update_brings_the_template_change_and_keeps_user_edits(
    releases: Releases, tmp_path: Path
) -> None:
    service = start_service(releases, tmp_path / "service")
    assert answers_of(service)["_src_path"] == str(releases.clone.path)
    (service / "app" / "reports.py").write_text('"""Our own module."""\n')
    readme = service / "README.md"
    readme.write_text(USER_SECTION + "\n" + readme.read_text())
    commit_all(service, "Our edits")

    output = updated(service, releases.patch)

    merged = readme.read_text()
    assert TEMPLATE_CHANGE in merged, "the template change did not arrive"
    assert merged.startswith(USER_SECTION), "the user's edit was lost"
    assert "<<<<<<<" not in merged
    assert (service / "app" / "reports.py").read_text() == '"""Our own module."""\n'
    assert answers_of(service)["_commit"] == releases.patch
    # Real versions, not the 0.0.0.postN copier makes up for a template without tags.
    assert f"Updating to template version {releases.patch[1:]}" in output, output
    assert "0.0.0" not in output, output
    # ... and where to read what the versions changed and what they ask of the team.
    assert f"Updated to tenfold {releases.patch}. What changed: CHANGELOG.md" in output, output


def test_conflicting_edit_is_marked_and_nothing_is_lost(releases: Releases, tmp_path: Path) -> None:
    service = start_service(releases, tmp_path / "service")
    readme = service / "README.md"
    # The user appends their own text exactly where the later release appends its section.
    readme.write_text(
        readme.read_text() + "\n## Changelog\n\nWe keep our changelog in CHANGES.md.\n"
    )
    (service / "CHANGES.md").write_text("# Changes\n")
    commit_all(service, "Our changelog")
    files_before = {p.relative_to(service) for p in service.rglob("*") if ".git" not in p.parts}

    updated(service, releases.patch)

    merged = readme.read_text()
    assert "<<<<<<<" in merged, "the conflict was not marked"
    assert ">>>>>>>" in merged, "the conflict was not marked"
    assert "We keep our changelog in CHANGES.md." in merged, (
        "the user's side of the conflict was lost"
    )
    assert "A later release adds this section." in merged, (
        "the template's side of the conflict was lost"
    )
    files_after = {p.relative_to(service) for p in service.rglob("*") if ".git" not in p.parts}
    assert files_before <= files_after, (
        f"files lost by the update: {sorted(map(str, files_before - files_after))}"
    )
    answers = answers_of(service)
    assert answers["_commit"] == releases.patch
    assert answers["project_name"] == "Order Service"


# --- Across the regrouping of app/ (0.4.0), from a service rendered before tags existed --------

# 0.3.0, the last release before app/ was regrouped by concern, as CHANGELOG.md records it.
BEFORE_MOVE = read().release("0.3.0").commit
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


@dataclass(frozen=True)
class AcrossTheMove:
    service: Path
    output: str
    """What `copier update` printed."""
    clone: TemplateClone
    tip: str


@pytest.fixture(scope="module")
def across_the_move(tmp_path_factory: pytest.TempPathFactory) -> AcrossTheMove:
    """A service rendered at 0.3.0 before any tag existed, edited, then updated to the tip.

    As every service rendered before releases began, it records a bare commit in `_commit`;
    the tags arrive later, when the release workflow first runs.
    """
    assert BEFORE_MOVE is not None, "CHANGELOG.md no longer names the commit of 0.3.0"
    workspace = tmp_path_factory.mktemp("moved")
    clone = TemplateClone.of_checkout(workspace / "tenfold")
    service = clone.render(
        workspace / "service", {"alarm_email": "oncall@example.com"}, BEFORE_MOVE
    )
    recorded = str(answers_of(service)["_commit"])
    assert re.fullmatch(r"[0-9a-f]{7,40}", recorded), f"not a bare commit: {recorded}"
    assert recorded.startswith(BEFORE_MOVE[:7]), recorded
    for old, _new, line, edited in [EDIT_MERGED, *EDITS_CONFLICTING]:
        module = service / old
        assert line in module.read_text(), f"{old} no longer has the line this test edits"
        module.write_text(module.read_text().replace(line, edited))
    commit_all(service, "Our edits")

    tip = clone.tag_releases()
    return AcrossTheMove(service, updated(service, f"v{tip}"), clone, tip)


def test_the_update_names_real_versions_and_runs_the_step_of_the_version_it_crosses(
    across_the_move: AcrossTheMove,
) -> None:
    output, tip = across_the_move.output, across_the_move.tip
    assert f"Updating to template version {tip}" in output, output
    assert "0.0.0" not in output, output
    # The migration of 0.4.0, given the version the service came from (v0.3.0 now it is tagged).
    assert "update/moved_modules.py" in output, f"the {MOVE_VERSION} migration did not run"
    assert "'v0.3.0']" in output, output
    assert answers_of(across_the_move.service)["_commit"] == f"v{tip}"


def test_untouched_moved_modules_move(across_the_move: AcrossTheMove) -> None:
    service, clone = across_the_move.service, across_the_move.clone
    for old, new in UNTOUCHED_MOVES.items():
        assert not (service / old).exists(), f"{old} stayed behind"
        template_version = clone.git("show", f"v{across_the_move.tip}:template/{new}")
        assert (service / new).read_text() == template_version, f"{new} is not the template's"


def test_edits_in_moved_modules_are_merged_or_marked_never_lost(
    across_the_move: AcrossTheMove,
) -> None:
    service, output = across_the_move.service, across_the_move.output
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
    across_the_move: AcrossTheMove,
) -> None:
    service = across_the_move.service
    for _old, new, _line, _edited in EDITS_CONFLICTING:
        resolve_taking_the_template_side(service / new)
    commit_all(service, "Update to the regrouped app/")
    env = service_env()
    run(["make", "lint"], cwd=service, env=env)
    run(
        ["uv", "run", "pytest", "-q", "-p", "no:cacheprovider", *MOVED_MODULE_TESTS],
        cwd=service,
        env=env,
    )


# --- Migrations keyed by version: they run when an update crosses their version ---------------


def first_parent_after(clone: TemplateClone, tag: str) -> str:
    """The commit that came to main right after `tag`: a service rendered between releases."""
    return clone.git("rev-list", "--first-parent", "--reverse", f"{tag}..HEAD").split()[0]


def migrations_run(clone: TemplateClone, rendered_at: str, updated_to: str) -> list[str]:
    """The `after` migrations copier selects to update a service from one ref to another.

    Asked of copier's own Template (internal API: an ImportError here means copier moved it),
    so the versions are worked out by copier exactly as in `copier update`. The end-to-end
    tests in this module run the same selection through the command.
    """
    from copier._template import Template

    old, new = Template(str(clone.path), ref=rendered_at), Template(str(clone.path), ref=updated_to)
    try:
        return [str(task.cmd[1]) for task in new.migration_tasks("after", old)]
    finally:
        old._cleanup()
        new._cleanup()


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> tuple[TemplateClone, str]:
    clone = TemplateClone.of_checkout(tmp_path_factory.mktemp("tagged") / "tenfold")
    return clone, f"v{clone.tag_releases()}"


@pytest.mark.parametrize(
    ("rendered_at", "crosses"),
    [
        pytest.param("v0.1.0", True, id="from-0.1.0"),
        pytest.param("v0.3.0", True, id="from-0.3.0"),
        pytest.param("v0.3.0+1", True, id="from-0.3.0.post1"),
        pytest.param("v0.4.0", False, id="from-0.4.0"),
        pytest.param("v0.4.0+1", False, id="from-0.4.0.post1"),
    ],
)
def test_the_moved_modules_step_runs_only_when_an_update_crosses_its_version(
    tagged: tuple[TemplateClone, str], rendered_at: str, crosses: bool
) -> None:
    clone, tip = tagged
    if rendered_at.endswith("+1"):
        rendered_at = first_parent_after(clone, rendered_at.removesuffix("+1"))
    selected = migrations_run(clone, rendered_at, tip)
    step = "{{ _copier_conf.src_path }}/update/moved_modules.py"
    assert (step in selected) is crosses, f"{rendered_at} -> {tip} runs {selected}"


def test_a_commit_from_before_any_tag_counts_as_0_0_0_and_crosses_every_version(
    tmp_path: Path,
) -> None:
    """Tags never backfilled: only a new release is tagged, older services still migrate."""
    clone = TemplateClone.of_checkout(tmp_path / "tenfold")
    tip = clone.tag(next_versions(read().latest.version)[1])
    assert BEFORE_MOVE is not None
    assert migrations_run(clone, BEFORE_MOVE, tip) == [
        "{{ _copier_conf.src_path }}/update/moved_modules.py"
    ]


def test_an_update_that_crosses_no_migration_version_runs_none(
    tagged: tuple[TemplateClone, str], tmp_path: Path
) -> None:
    clone, tip = tagged
    service = clone.render(tmp_path / "service", {"project_name": "Order Service"}, "v0.4.0")

    output = updated(service, tip)

    assert f"Updating to template version {tip[1:]}" in output, output
    assert "Running task" not in output, f"a migration ran from 0.4.0 to {tip}:\n{output}"
    assert answers_of(service)["_commit"] == tip
    # An untouched service takes every template change without a conflict.
    assert git(service, "diff", "--name-only", "--diff-filter=U") == ""


def test_a_service_rendered_between_releases_updates_to_main_not_back_to_the_last_tag(
    tmp_path: Path,
) -> None:
    """What docs/update.md tells a team that rendered from main after the newest release."""
    clone = TemplateClone.of_checkout(tmp_path / "tenfold")
    tip = clone.tag(next_versions(read().latest.version)[1])
    clone.change("A change on main after the release", {"NOTES.md": lambda _: "On main.\n"})
    service = clone.render(tmp_path / "service", {}, "HEAD")
    recorded = answers_of(service)["_commit"]
    assert str(recorded).startswith(f"{tip}-1-g"), recorded

    refused = update(service, None)  # copier's default: the newest tag, older than the service

    assert refused.returncode != 0
    assert "Downgrades are not supported" in refused.stderr, refused.stderr
    assert answers_of(service)["_commit"] == recorded, "a refused update changed the service"
    assert update(service, "HEAD").returncode == 0
