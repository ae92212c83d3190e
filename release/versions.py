"""The version strings besides CHANGELOG.md, which must name its latest release.

A release bumps them in the same commit as its changelog heading: the template's own project
version, its lock, and `tenfold_infra.__version__`, which every generated service vendors
(infra/tenfold_infra), so a service can tell which library version it runs.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Callable, Mapping

from release.changelog import ChangelogError


def _pyproject(text: str) -> str:
    return str(tomllib.loads(text)["project"]["version"])


def _lock(text: str) -> str:
    packages = tomllib.loads(text).get("package", [])
    return next(str(p["version"]) for p in packages if p.get("name") == "tenfold")


def _module(text: str) -> str:
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__version__" for target in node.targets
        ):
            return str(ast.literal_eval(node.value))
    raise StopIteration


READERS: Mapping[str, Callable[[str], str]] = {
    "pyproject.toml": _pyproject,
    "uv.lock": _lock,
    "pulumi/tenfold_infra/__init__.py": _module,
}


def mismatches(version: str, read_file: Callable[[str], str]) -> list[str]:
    """What does not say `version`, one line a file; `read_file` reads a repository path."""
    found = []
    for path, reader in READERS.items():
        try:
            value = reader(read_file(path))
        except (FileNotFoundError, KeyError, StopIteration, SyntaxError, tomllib.TOMLDecodeError):
            found.append(f"{path}: no version found")
            continue
        if value != version:
            found.append(f"{path}: {value}")
    return found


def check(version: str, read_file: Callable[[str], str]) -> None:
    """Raise ChangelogError unless every version string is `version`."""
    wrong = mismatches(version, read_file)
    if wrong:
        raise ChangelogError(
            f"the latest release in CHANGELOG.md is {version}, but "
            + "; ".join(wrong)
            + f". Set them to {version} in the release's commit (uv.lock: run `uv lock`)"
        )
