"""Released versions of this template, for update tests: a temporary clone with its own tags.

Tags may not travel with this repository's main (a fresh clone, a fork, CI's checkout), so the
tests never read the checkout's tags. `TemplateClone.of_checkout` clones the history without
tags and commits the checkout's uncommitted edits on top: its tip is exactly the code under
test. The tests then tag what they need:

- `tag_releases()` tags every release CHANGELOG.md names a commit for, as the release workflow
  does, and the tip as the next release (what the Unreleased section would become);
- `change()` adds a template commit as a real release would, for `tag()` to make a version.

A service is rendered from a tag with `render()` and updated with `update()`, through copier
as a user runs it, so the output holds what copier prints (the versions, the migrations).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from release.changelog import next_versions, read
from tests.conftest import TEMPLATE_ROOT, render

Edit = Callable[[str | None], str | None]
"""A file's new text from its old one (None: absent before, or deleted after)."""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def checkout_files() -> list[str]:
    """The checkout's files as git sees them: committed or new, never ignored, not deleted."""
    listing = git(TEMPLATE_ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    names = (name for name in listing.split("\0") if name)
    return [
        name
        for name in names
        if (TEMPLATE_ROOT / name).is_symlink() or (TEMPLATE_ROOT / name).exists()
    ]


@dataclass(frozen=True)
class TemplateClone:
    path: Path

    @classmethod
    def of_checkout(cls, destination: Path) -> TemplateClone:
        """This checkout's history without tags, its uncommitted edits as the tip's commit."""
        subprocess.run(
            ["git", "clone", "--quiet", "--no-tags", str(TEMPLATE_ROOT), str(destination)],
            check=True,
            capture_output=True,
        )
        clone = cls(destination)
        clone.git(
            "checkout", "--quiet", "-B", "main", git(TEMPLATE_ROOT, "rev-parse", "HEAD").strip()
        )
        wanted = checkout_files()
        for name in set(clone.git("ls-files", "-z").split("\0")) - {"", *wanted}:
            (destination / name).unlink()
        for name in wanted:
            source, target = TEMPLATE_ROOT / name, destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_symlink() or target.exists():
                target.unlink()
            if source.is_symlink():
                target.symlink_to(source.readlink())
            else:
                shutil.copy2(source, target)
        clone.git("add", "--all")
        if clone.git("status", "--porcelain"):
            clone.git("commit", "--quiet", "-m", "The checkout's uncommitted edits")
        return clone

    def git(self, *args: str) -> str:
        return git(self.path, *args)

    def tag(self, version: str, ref: str = "HEAD") -> str:
        """Tag `ref` as `version`, the way the release workflow names tags (vX.Y.Z)."""
        name = f"v{version.removeprefix('v')}"
        try:
            self.git("tag", name, ref)
        except subprocess.CalledProcessError as error:
            pytest.fail(
                f"cannot tag {ref} as {name}: {error.stderr.strip()}. The tests need the "
                "template's git history (in a shallow clone run `git fetch --unshallow`)"
            )
        return name

    def tag_releases(self) -> str:
        """Tag what CHANGELOG.md records, and the tip as the next release; return the tip's."""
        changelog = read(self.path / "CHANGELOG.md")
        for release in changelog.releases:
            if release.commit is not None:
                self.tag(release.version, release.commit)
        latest = changelog.latest
        # A release made by the workflow names no commit: as far as a clone knows, it is the tip.
        tip = latest.version if latest.commit is None else next_versions(latest.version)[1]
        self.tag(tip)
        return tip

    def change(self, message: str, edits: Mapping[str, Edit]) -> str:
        """Commit a change of the template, as a release would; returns the commit."""
        for name, edit in edits.items():
            path = self.path / name
            new = edit(path.read_text() if path.exists() else None)
            if new is None:
                path.unlink(missing_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(new)
        self.git("add", "--all")
        self.git("commit", "--quiet", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def render(self, destination: Path, answers: Mapping[str, Any], ref: str) -> Path:
        """A service rendered from `ref` and committed, as a team starts one."""
        render(destination, answers, src=self.path, vcs_ref=ref)
        git(destination, "init", "--quiet", "-b", "main")
        commit_all(destination, f"Start from tenfold {ref}")
        return destination


def commit_all(repository: Path, message: str) -> None:
    git(repository, "add", "--all")
    git(repository, "commit", "--quiet", "-m", message)


def update(service: Path, ref: str | None, *options: str) -> subprocess.CompletedProcess[str]:
    """`copier update` in `service` to `ref` (None: copier's choice, the newest tag), as a user
    runs it; the result, never raised."""
    vcs_ref = ["--vcs-ref", ref] if ref is not None else []
    return subprocess.run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults", *vcs_ref, *options],
        cwd=service,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
