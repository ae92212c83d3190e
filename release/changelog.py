"""CHANGELOG.md, read and checked: the one place a tenfold version is declared.

The file follows Keep a Changelog 1.1.0 (https://keepachangelog.com/en/1.1.0/): a
`## [Unreleased]` section first, then one `## [X.Y.Z] - YYYY-MM-DD` section a release, newest
first, each made of `### Added`, `Changed`, `Deprecated`, `Removed`, `Fixed` or `Security`
lists. Versions are semantic (https://semver.org): each one follows the one below it by a
single step (a patch, minor or major bump), so a version cannot be skipped or repeated.

Releases made before the release workflow existed carry the commit they were tagged on after
the fact, in a sentence of their section: "tagged after the fact on commit `5de5016`".
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

CHANGELOG = Path(__file__).resolve().parents[1] / "CHANGELOG.md"
KINDS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
SECTION = re.compile(r"^## (?P<heading>.*)$")
RELEASE = re.compile(r"^\[(?P<version>[^\]]+)\] - (?P<date>.+)$")
KIND = re.compile(r"^### (?P<kind>.*)$")
TAGGED_AFTER = re.compile(
    r"tagged\s+after\s+the\s+fact\s+on\s+commit\s+`(?P<commit>[0-9a-f]{7,40})`", re.I
)
LINK_DEFINITION = re.compile(r"^\[[^\]]+\]: \S+")


class ChangelogError(ValueError):
    """CHANGELOG.md does not say what a release needs; the message says where and how to fix."""


@dataclass(frozen=True)
class Release:
    version: str
    date: date
    notes: str
    """The section's text without its heading: the GitHub release's body."""
    commit: str | None
    """The commit a release made before the release workflow was tagged on, else None."""

    @property
    def tag(self) -> str:
        return f"v{self.version}"


@dataclass(frozen=True)
class Changelog:
    unreleased: str
    releases: tuple[Release, ...]
    """Newest first, as the file lists them."""

    @property
    def latest(self) -> Release:
        if not self.releases:
            raise ChangelogError("CHANGELOG.md has no release yet: add a `## [X.Y.Z] - date`")
        return self.releases[0]

    def release(self, version: str) -> Release:
        version = version.removeprefix("v")
        for release in self.releases:
            if release.version == version:
                return release
        known = ", ".join(r.version for r in self.releases) or "none"
        raise ChangelogError(
            f"version {version} is not in CHANGELOG.md (its versions: {known}); "
            f"add a `## [{version}] - YYYY-MM-DD` section first"
        )


def read(path: Path = CHANGELOG) -> Changelog:
    return parse(path.read_text(encoding="utf-8"))


def parse(text: str) -> Changelog:
    """The changelog in `text`, or ChangelogError naming the first line that breaks the format."""
    lines = text.splitlines()
    if not lines or lines[0] != "# Changelog":
        raise ChangelogError("CHANGELOG.md must start with the line `# Changelog`")
    sections = _sections(lines)
    if not sections or sections[0][1] != "[Unreleased]":
        raise ChangelogError(
            "CHANGELOG.md's first section must be `## [Unreleased]` "
            "(what main holds that no release has yet)"
        )
    _check_kinds(*sections[0])
    releases = [_release(*section) for section in sections[1:]]
    for newer, older in itertools.pairwise(releases):
        _check_succession(newer, older)
    unreleased = "\n".join(sections[0][2]).strip()
    return Changelog(unreleased=unreleased, releases=tuple(releases))


Section = tuple[int, str, list[str]]  # line number, heading, the lines below it


def _sections(lines: list[str]) -> list[Section]:
    sections: list[Section] = []
    for number, line in enumerate(lines, 1):
        if LINK_DEFINITION.match(line):
            continue  # `[0.4.0]: https://...` link definitions at the end
        if heading := SECTION.match(line):
            sections.append((number, heading["heading"].strip(), []))
        elif sections:
            sections[-1][2].append(line)
    return sections


def _release(number: int, heading: str, body: list[str]) -> Release:
    match = RELEASE.match(heading)
    if not match:
        raise ChangelogError(
            f"CHANGELOG.md line {number}: `## {heading}` is not a release heading; "
            "write `## [X.Y.Z] - YYYY-MM-DD`, for example `## [1.4.0] - 2027-01-15`"
        )
    version = match["version"]
    if not SEMVER.match(version):
        raise ChangelogError(
            f"CHANGELOG.md line {number}: {version!r} is not a semantic version: "
            "use MAJOR.MINOR.PATCH, three whole numbers without leading zeros (1.4.0)"
        )
    try:
        released = date.fromisoformat(match["date"])
    except ValueError:
        raise ChangelogError(
            f"CHANGELOG.md line {number}: {match['date']!r} is not a date: "
            "use the release day as YYYY-MM-DD"
        ) from None
    _check_kinds(number, heading, body)
    if not any(line.startswith("- ") for line in body):
        raise ChangelogError(
            f"CHANGELOG.md line {number}: release {version} lists no change; "
            "a release says what it brings, under ### Added, Changed, Fixed..."
        )
    text = "\n".join(body).strip()
    tagged = TAGGED_AFTER.search(text)
    return Release(version, released, text, tagged["commit"] if tagged else None)


def _check_kinds(number: int, heading: str, body: list[str]) -> None:
    seen: set[str] = set()
    for offset, line in enumerate(body, 1):
        kind = KIND.match(line)
        if not kind:
            continue
        name = kind["kind"].strip()
        where = f"CHANGELOG.md line {number + offset}"
        if name not in KINDS:
            raise ChangelogError(
                f"{where}: `### {name}` under `## {heading}` is not a kind of change "
                f"Keep a Changelog knows: use one of {', '.join(KINDS)}"
            )
        if name in seen:
            raise ChangelogError(
                f"{where}: `### {name}` appears twice under `## {heading}`; merge the two lists"
            )
        seen.add(name)


def _check_succession(newer: Release, older: Release) -> None:
    allowed = next_versions(older.version)
    if newer.version not in allowed:
        raise ChangelogError(
            f"CHANGELOG.md: {newer.version} is listed above {older.version}, but the version "
            f"after {older.version} is {', '.join(allowed[:-1])} or {allowed[-1]} "
            "(one patch, minor or major step; newest release first)"
        )
    if newer.date < older.date:
        raise ChangelogError(
            f"CHANGELOG.md: {newer.version} is dated {newer.date}, before {older.version} "
            f"({older.date}); a newer release cannot be older"
        )


def next_versions(version: str) -> tuple[str, str, str]:
    """The three versions that may follow `version`: the next patch, minor and major."""
    major, minor, patch = (int(part) for part in version.split("."))
    return (f"{major}.{minor}.{patch + 1}", f"{major}.{minor + 1}.0", f"{major + 1}.0.0")
