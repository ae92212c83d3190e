"""Releases: CHANGELOG.md, the version strings, and the tags the release workflow creates.

The workflow (.github/workflows/release.yml) is run here as GitHub runs its steps: its own
shell, in a small repository holding a copy of `release/`, with a stand-in `gh` on PATH that
records each release it is asked to create.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from release import versions
from release.changelog import ChangelogError, parse, read
from release.plan import Repository, Tag, plan
from tests.conftest import TEMPLATE_ROOT
from tests.template_versions import git

WORKFLOW = TEMPLATE_ROOT / ".github" / "workflows" / "release.yml"


def test_the_changelog_is_well_formed_and_every_version_string_names_its_latest_release() -> None:
    sys.path.insert(0, str(TEMPLATE_ROOT / "pulumi"))
    import tenfold_infra

    latest = read().latest.version
    assert tenfold_infra.__version__ == latest, (
        f"tenfold_infra.__version__ is {tenfold_infra.__version__}, CHANGELOG.md's latest "
        f"release is {latest}"
    )
    assert versions.mismatches(latest, lambda path: (TEMPLATE_ROOT / path).read_text()) == []


def test_releases_made_before_the_workflow_name_the_commits_they_are_tagged_on() -> None:
    """Each landing before releases existed is tagged after the fact on its last commit."""
    history = Repository(TEMPLATE_ROOT)
    recorded = [r for r in read().releases if r.commit is not None]
    assert [r.version for r in recorded][-1] == "0.1.0"
    for release in recorded:
        assert release.commit is not None
        if not history.commit(release.commit):
            pytest.fail(
                f"{release.version} names commit {release.commit}, which this checkout lacks "
                "(a shallow clone: run `git fetch --unshallow`)"
            )
        assert history.contains(release.commit, "HEAD")


# --- The format: what a maintainer can get wrong, and what they are told -------------------

RELEASE_020 = "## [0.2.0] - 2026-12-02\n\n### Added\n\n- Two.\n"
RELEASE_010 = "## [0.1.0] - 2026-12-01\n\n### Added\n\n- One.\n"


def changelog(*sections: str, unreleased: str = "") -> str:
    return "\n".join(["# Changelog", "", "## [Unreleased]", "", unreleased, *sections])


def test_a_changelog_in_the_format_reads_newest_first_with_its_notes() -> None:
    text = changelog(
        "## [0.2.0] - 2026-12-02\n\nTagged after the fact\non commit `abcdef1`.\n\n"
        "### Changed\n\n- Two.\n\n### Fixed\n\n- Three.\n",
        RELEASE_010,
        "[0.2.0]: https://example.com/compare/v0.1.0...v0.2.0",
        unreleased="### Added\n\n- Soon.\n",
    )
    parsed = parse(text)
    assert [r.version for r in parsed.releases] == ["0.2.0", "0.1.0"]
    assert parsed.latest.commit == "abcdef1"
    assert parsed.releases[1].commit is None
    assert parsed.release("v0.2.0").notes == (
        "Tagged after the fact\non commit `abcdef1`.\n\n### Changed\n\n- Two.\n\n### Fixed\n\n- Three."
    )
    assert parsed.unreleased == "### Added\n\n- Soon."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("## [Unreleased]\n", "must start with the line `# Changelog`", id="no-title"),
        pytest.param(
            "# Changelog\n\n" + RELEASE_010,
            "first section must be `## [Unreleased]`",
            id="no-unreleased",
        ),
        pytest.param(
            changelog("## 0.1.0 - 2026-12-01\n\n- One.\n"),
            "write `## [X.Y.Z] - YYYY-MM-DD`",
            id="heading-without-brackets",
        ),
        pytest.param(
            changelog("## [1.0] - 2026-12-01\n\n### Added\n\n- One.\n"),
            "'1.0' is not a semantic version",
            id="two-part-version",
        ),
        pytest.param(
            changelog("## [1.0.0-rc.1] - 2026-12-01\n\n### Added\n\n- One.\n"),
            "is not a semantic version",
            id="prerelease",
        ),
        pytest.param(
            changelog("## [0.1.0] - 1 Dec 2026\n\n### Added\n\n- One.\n"),
            "'1 Dec 2026' is not a date",
            id="date-not-iso",
        ),
        pytest.param(
            changelog("## [0.1.0] - 2026-12-01\n\n### Breaking\n\n- One.\n"),
            "`### Breaking` under `## [0.1.0] - 2026-12-01` is not a kind of change",
            id="unknown-kind",
        ),
        pytest.param(
            changelog("## [0.1.0] - 2026-12-01\n\n### Added\n\n- One.\n\n### Added\n\n- Two.\n"),
            "`### Added` appears twice",
            id="kind-twice",
        ),
        pytest.param(
            changelog("## [0.1.0] - 2026-12-01\n\n### Added\n"),
            "release 0.1.0 lists no change",
            id="empty-release",
        ),
        pytest.param(
            changelog(RELEASE_020.replace("0.2.0", "0.4.0"), RELEASE_010),
            "the version after 0.1.0 is 0.1.1, 0.2.0 or 1.0.0",
            id="skipped-version",
        ),
        pytest.param(
            changelog(RELEASE_010, RELEASE_010), "0.1.0 is listed above 0.1.0", id="repeated"
        ),
        pytest.param(
            changelog(RELEASE_010, RELEASE_020), "0.1.0 is listed above 0.2.0", id="oldest-first"
        ),
        pytest.param(
            changelog(RELEASE_020.replace("2026-12-02", "2026-11-30"), RELEASE_010),
            "0.2.0 is dated 2026-11-30, before 0.1.0",
            id="date-goes-back",
        ),
        pytest.param(
            changelog(unreleased="### Later\n\n- Soon.\n"), "`### Later`", id="unreleased-kind"
        ),
    ],
)
def test_a_malformed_changelog_is_refused_with_the_fix(text: str, message: str) -> None:
    with pytest.raises(ChangelogError, match=re.escape(message)):
        parse(text)


def test_an_unknown_version_is_refused_with_the_versions_there_are() -> None:
    with pytest.raises(
        ChangelogError, match=r"9\.9\.9 is not in CHANGELOG.md \(its versions: 0\.2\.0, 0\.1\.0\)"
    ):
        parse(changelog(RELEASE_020, RELEASE_010)).release("9.9.9")


def test_a_version_string_that_differs_is_named_with_its_file() -> None:
    files = {
        "pyproject.toml": '[project]\nname = "tenfold"\nversion = "0.2.0"\n',
        "uv.lock": 'version = 1\n\n[[package]]\nname = "tenfold"\nversion = "0.1.0"\n',
        "pulumi/tenfold_infra/__init__.py": '"""Doc."""\n\n__all__ = []\n',
    }
    with pytest.raises(ChangelogError) as refused:
        versions.check("0.2.0", files.__getitem__)
    message = str(refused.value)
    assert "uv.lock: 0.1.0" in message
    assert "pulumi/tenfold_infra/__init__.py: no version found" in message
    assert "pyproject.toml" not in message


# --- Planning the tags, in a repository of its own -------------------------------------------


class Releases:
    """A small repository with what a release reads: CHANGELOG.md, version strings, release/."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir()
        git(root, "init", "--quiet", "-b", "main")
        shutil.copytree(
            TEMPLATE_ROOT / "release",
            root / "release",
            ignore=shutil.ignore_patterns("__pycache__"),
        )

    def commit(self, version: str, changelog_text: str | None = None) -> str:
        files = {
            "pyproject.toml": f'[project]\nname = "tenfold"\nversion = "{version}"\n',
            "uv.lock": f'version = 1\n\n[[package]]\nname = "tenfold"\nversion = "{version}"\n',
            "pulumi/tenfold_infra/__init__.py": f'__version__ = "{version}"\n',
        }
        if changelog_text is not None:
            files["CHANGELOG.md"] = changelog_text
        for name, text in files.items():
            (self.root / name).parent.mkdir(parents=True, exist_ok=True)
            (self.root / name).write_text(text)
        git(self.root, "add", "--all")
        git(self.root, "commit", "--quiet", "-m", f"Version {version}")
        return git(self.root, "rev-parse", "HEAD").strip()


@pytest.fixture
def releases(tmp_path: Path) -> tuple[Releases, str, str]:
    """0.1.0 released before the workflow (commit `first`), 0.2.0 added to the changelog now."""
    repo = Releases(tmp_path / "repo")
    first = repo.commit("0.1.0")
    recorded = RELEASE_010.replace(
        "- One.", f"- One. Tagged after the fact on commit `{first[:7]}`."
    )
    second = repo.commit("0.2.0", changelog(RELEASE_020, recorded))
    return repo, first, second


def test_the_plan_tags_a_recorded_release_on_its_commit_and_the_newest_on_the_released_one(
    releases: tuple[Releases, str, str],
) -> None:
    repo, first, second = releases
    assert plan(Repository(repo.root), "main") == [Tag("v0.1.0", first), Tag("v0.2.0", second)]
    git(repo.root, "tag", "v0.1.0", first)
    assert plan(Repository(repo.root), "main") == [Tag("v0.2.0", second)]
    git(repo.root, "tag", "--annotate", "-m", "tenfold v0.2.0", "v0.2.0", second)
    assert plan(Repository(repo.root), "main") == [], "a tagged version was planned again"


def test_a_published_version_is_never_moved(releases: tuple[Releases, str, str]) -> None:
    repo, first, _second = releases
    git(repo.root, "tag", "v0.1.0", first)
    with pytest.raises(ChangelogError, match=r"v0\.1\.0 is already tagged, on .*never moved"):
        plan(Repository(repo.root), "main", "0.1.0")


def test_the_newest_version_is_tagged_only_where_the_version_strings_say_it(
    releases: tuple[Releases, str, str],
) -> None:
    repo, _first, _second = releases
    text = (repo.root / "CHANGELOG.md").read_text()
    repo.commit(
        "0.2.0",
        text.replace(
            "## [0.2.0]", "## [0.3.0] - 2026-12-03\n\n### Fixed\n\n- Three.\n\n## [0.2.0]"
        ),
    )
    with pytest.raises(
        ChangelogError,
        match=r"latest release in CHANGELOG.md is 0\.3\.0, but pyproject\.toml: 0\.2\.0",
    ):
        plan(Repository(repo.root), "main")


def test_an_older_version_without_its_tag_or_commit_is_refused(
    releases: tuple[Releases, str, str],
) -> None:
    repo, first, _second = releases
    git(repo.root, "tag", "v0.1.0", first)
    text = (repo.root / "CHANGELOG.md").read_text()
    repo.commit(
        "0.3.0",
        text.replace(
            "## [0.2.0]", "## [0.3.0] - 2026-12-03\n\n### Fixed\n\n- Three.\n\n## [0.2.0]"
        ),
    )
    with pytest.raises(ChangelogError, match=r"0\.2\.0 has no tag and is not the latest version"):
        plan(Repository(repo.root), "main")


def test_a_tag_off_the_released_history_is_refused(releases: tuple[Releases, str, str]) -> None:
    repo, first, _second = releases
    git(repo.root, "checkout", "--quiet", "-b", "side", first)
    side = repo.commit("0.1.0", "# side\n")
    git(repo.root, "tag", "v0.1.0", side)
    git(repo.root, "checkout", "--quiet", "main")
    with pytest.raises(ChangelogError, match=r"does not contain v0\.1\.0"):
        plan(Repository(repo.root), "main")


# --- The workflow, run as GitHub runs it ----------------------------------------------------


def workflow_steps() -> dict[str, dict[str, object]]:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    return {step["name"]: step for step in jobs["release"]["steps"] if "name" in step}


def run_workflow(
    repo: Path, tmp_path: Path, version: str = ""
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, str]]]:
    """The plan and publish steps in `repo`, with `gh` standing in; what gh was asked."""
    tools = tmp_path / "tools"
    tools.mkdir(exist_ok=True)
    (tools / "python").symlink_to(sys.executable)
    log = tmp_path / "gh.jsonl"
    gh = tools / "gh"
    gh.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "args = sys.argv[1:]\n"
        "notes = open(args[args.index('--notes-file') + 1]).read()\n"
        "with open(os.environ['GH_LOG'], 'a') as log:\n"
        "    log.write(json.dumps({'args': ' '.join(args), 'notes': notes}) + '\\n')\n"
    )
    gh.chmod(0o755)
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}",
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_SHA": git(repo, "rev-parse", "HEAD").strip(),
        "GITHUB_ACTIONS": "true",
        "VERSION": version,
        "GH_TOKEN": "stand-in",
        "GH_LOG": str(log),
    }
    steps = workflow_steps()
    script = f"{steps['Plan the tags']['run']}\n{steps['Tag and publish']['run']}"
    # GitHub runs a `run:` step with `bash -e {0}` on Linux runners.
    done = subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, calls


def test_the_workflow_creates_each_due_release_with_its_notes(
    releases: tuple[Releases, str, str], tmp_path: Path
) -> None:
    repo, first, second = releases
    done, calls = run_workflow(repo.root, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    notes = parse((repo.root / "CHANGELOG.md").read_text())
    assert [call["args"].split(" --notes-file ")[0] for call in calls] == [
        f"release create v0.1.0 --target {first} --title tenfold v0.1.0",
        f"release create v0.2.0 --target {second} --title tenfold v0.2.0",
    ]
    assert [call["notes"] for call in calls] == [
        notes.release("0.1.0").notes + "\n",
        notes.release("0.2.0").notes + "\n",
    ]


def test_the_workflow_releases_nothing_when_every_version_is_tagged(
    releases: tuple[Releases, str, str], tmp_path: Path
) -> None:
    repo, first, second = releases
    git(repo.root, "tag", "v0.1.0", first)
    git(repo.root, "tag", "v0.2.0", second)
    done, calls = run_workflow(repo.root, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing to release" in done.stdout
    assert calls == []


def test_a_dispatched_version_is_the_only_one_released(
    releases: tuple[Releases, str, str], tmp_path: Path
) -> None:
    repo, first, _second = releases
    done, calls = run_workflow(repo.root, tmp_path, version="0.1.0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [call["args"].split(" --title")[0] for call in calls] == [
        f"release create v0.1.0 --target {first}"
    ]


def test_the_workflow_stops_before_any_release_when_the_plan_fails(
    releases: tuple[Releases, str, str], tmp_path: Path
) -> None:
    repo, _first, _second = releases
    repo.commit("0.1.0", (repo.root / "CHANGELOG.md").read_text())  # the strings fall back
    done, calls = run_workflow(repo.root, tmp_path)
    assert done.returncode != 0
    assert "::error::the latest release in CHANGELOG.md is 0.2.0" in done.stderr
    assert calls == [], "a release was created although the plan failed"


def test_the_workflow_checks_out_every_tag_and_releases_only_from_main() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow_steps()
    checkout = next(
        s for s in workflow["jobs"]["release"]["steps"] if "checkout" in str(s.get("uses"))
    )
    assert checkout["with"]["fetch-depth"] == 0, "the plan needs every commit and tag"
    guard = steps["Releases are cut from main"]
    assert guard["if"] == "github.ref != 'refs/heads/main'"
    assert "exit 1" in str(guard["run"])
    # `on:` is read by YAML 1.1 as True.
    assert workflow[True]["push"] == {"branches": ["main"], "paths": ["CHANGELOG.md"]}


# --- Tags change what copier renders by default ---------------------------------------------


def copier_calls_without_a_ref(path: Path, root: Path = TEMPLATE_ROOT) -> list[str]:
    """Each copier copy in `path` that names no ref: with tags, it renders the newest release."""
    text, where = path.read_text(), path.relative_to(root)
    found = []
    if path.suffix == ".py" or text.startswith("#!/usr/bin/env python"):
        for node in ast.walk(ast.parse(text)):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", "")) == "run_copy"
                and not any(k.arg in {"vcs_ref", None} for k in node.keywords)
            ):
                found.append(f"{where}:{node.lineno}")
            if isinstance(node, ast.List):
                words = [e.value for e in node.elts if isinstance(e, ast.Constant)]
                if "copier" in words and "copy" in words and "--vcs-ref" not in words:
                    found.append(f"{where}:{node.lineno}")
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if (
                "copier copy" in line
                and "--vcs-ref" not in line
                and not line.lstrip().startswith("#")
            ):
                found.append(f"{where}:{number}")
    return found


def test_every_render_of_this_checkout_names_a_ref() -> None:
    """Without a ref, copier renders the newest tag: the tests would test an old release."""
    places = [TEMPLATE_ROOT / "Makefile", *sorted((TEMPLATE_ROOT / "scripts").iterdir())]
    places += sorted((TEMPLATE_ROOT / "tests").rglob("*.py"))
    found = [hit for path in places if path.is_file() for hit in copier_calls_without_a_ref(path)]
    assert found == []


def test_the_ref_check_finds_a_render_without_a_ref(tmp_path: Path) -> None:
    script = tmp_path / "render.py"
    script.write_text(
        "import copier\ncopier.run_copy('a', 'b', quiet=True)\n"
        "command = ['python', '-m', 'copier', 'copy', 'a', 'b']\n"
    )
    makefile = tmp_path / "Makefile"
    makefile.write_text("demo:\n\tcopier copy --trust . build/demo\n")
    assert copier_calls_without_a_ref(script, tmp_path) == ["render.py:2", "render.py:3"]
    assert copier_calls_without_a_ref(makefile, tmp_path) == ["Makefile:2"]
