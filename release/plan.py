"""Which tags a release run creates, and on which commits.

A version of CHANGELOG.md without its `vX.Y.Z` tag is due. The newest one is tagged on the
commit the run releases (a push to main, or the branch a maintainer dispatched), once the
version strings there agree with it. An older one can only be a release made before the
workflow existed, tagged on the commit its section names. A tag that exists is never moved.
Every tag must contain the tags of the versions below it, so `git describe` and Copier order
them as the changelog does.
"""

from __future__ import annotations

import itertools
import subprocess
from dataclasses import dataclass
from pathlib import Path

from release import versions
from release.changelog import Changelog, ChangelogError, Release, parse


@dataclass(frozen=True)
class Tag:
    name: str
    commit: str

    def __str__(self) -> str:
        return f"{self.name} {self.commit}"


class Repository:
    """The git repository the release runs in (the workflow's checkout, with every tag)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.root, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise ChangelogError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def commit(self, ref: str) -> str:
        return self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()

    def tags(self) -> dict[str, str]:
        """Each tag's name and the commit it points to."""
        listing = self.git(
            "for-each-ref", "refs/tags", "--format=%(refname:short) %(objectname) %(*objectname)"
        )
        found = {}
        for line in listing.splitlines():
            # An annotated tag is its own object, peeled to the commit; a light one is the commit.
            name, target, peeled = line.split(" ")
            found[name] = peeled or target
        return found

    def contains(self, ancestor: str, commit: str) -> bool:
        done = subprocess.run(
            ["git", "merge-base", "--is-ancestor", ancestor, commit],
            cwd=self.root,
            capture_output=True,
            check=False,
        )
        return done.returncode == 0

    def show(self, ref: str, path: str) -> str:
        done = subprocess.run(
            ["git", "show", f"{ref}:{path}"], cwd=self.root, capture_output=True, check=False
        )
        if done.returncode != 0:
            raise FileNotFoundError(path)
        return done.stdout.decode("utf-8")


def plan(repository: Repository, ref: str, version: str | None = None) -> list[Tag]:
    """The tags to create, oldest first; ChangelogError when releasing would be wrong."""
    head = repository.commit(ref)
    if not head:
        raise ChangelogError(f"{ref} is not a commit of this repository")
    try:
        changelog = parse(repository.show(head, "CHANGELOG.md"))
    except FileNotFoundError:
        raise ChangelogError(f"{ref} has no CHANGELOG.md: nothing to release") from None
    tags = repository.tags()
    if version is not None:
        wanted = changelog.release(version)
        if wanted.tag in tags:
            raise ChangelogError(
                f"{wanted.tag} is already tagged, on {tags[wanted.tag][:12]}; a published "
                "version is never moved: release the fix as a new version"
            )
    due = [r for r in changelog.releases if r.tag not in tags]
    if version is not None:
        due = [r for r in due if r.version == version.removeprefix("v")]
    planned = [Tag(r.tag, _commit_of(r, changelog, repository, head)) for r in due]
    _check_order(changelog, {**tags, **{t.name: t.commit for t in planned}}, repository, head)
    return sorted(planned, key=lambda tag: [int(p) for p in tag.name[1:].split(".")])


def _commit_of(release: Release, changelog: Changelog, repository: Repository, head: str) -> str:
    if release.commit is not None:
        commit = repository.commit(release.commit)
        if not commit:
            raise ChangelogError(
                f"{release.version} was tagged after the fact on {release.commit}, "
                "which is not a commit of this repository (a shallow checkout needs fetch-depth: 0)"
            )
        return commit
    if release is not changelog.latest:
        raise ChangelogError(
            f"{release.version} has no tag and is not the latest version in CHANGELOG.md: "
            f"a version is tagged while it is the newest. Tag it by hand on the commit that "
            f"released it (git tag {release.tag} <commit> && git push origin {release.tag}), "
            f"or name that commit in its section: tagged after the fact on commit `<sha>`"
        )
    versions.check(release.version, lambda path: repository.show(head, path))
    return head


def _check_order(
    changelog: Changelog, tags: dict[str, str], repository: Repository, head: str
) -> None:
    """Each version's commit holds the one below it, and the released commit holds them all."""
    chain = [r for r in reversed(changelog.releases) if r.tag in tags]
    for older, newer in itertools.pairwise(chain):
        if not repository.contains(tags[older.tag], tags[newer.tag]):
            raise ChangelogError(
                f"{newer.tag} ({tags[newer.tag][:12]}) does not contain {older.tag} "
                f"({tags[older.tag][:12]}): a version must be released from history that "
                "holds the versions before it"
            )
    if chain and not repository.contains(tags[chain[-1].tag], head):
        raise ChangelogError(
            f"the released commit {head[:12]} does not contain {chain[-1].tag}: "
            "release from main, which holds every release"
        )
