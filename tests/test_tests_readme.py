"""The table in template/tests/README.md names every part of app/ and only real test files.

A module added to app/ without a row, or a row naming a test file that was renamed, fails
here, so the table stays the one step from a module to its tests.
"""

import re

from tests.conftest import TEMPLATE_ROOT

APP = TEMPLATE_ROOT / "template" / "app"
TESTS = TEMPLATE_ROOT / "template" / "tests"
ROW = re.compile(r"^\| (.+?) \| (.+?) \|$")
NAME = re.compile(r"`([^`]+)`")


def table_rows() -> list[tuple[list[str], list[str]]]:
    rows = []
    for line in (TESTS / "README.md").read_text().splitlines():
        match = ROW.match(line)
        if match and not match[1].startswith(("module", "---")):
            rows.append((NAME.findall(match[1]), NAME.findall(match[2])))
    return rows


def named_modules(names: list[str]) -> set[str]:
    """Module paths a row's first cell names; a bare file name is in the package named before it."""
    named, package = set(), ""
    for name in names:
        if "/" in name:
            package = name.rpartition("/")[0] + "/" if not name.endswith("/") else name
        named.add(name if "/" in name else package + name)
    return named


def app_modules() -> list[str]:
    return sorted(
        path.relative_to(APP).as_posix().removesuffix(".jinja")
        for path in APP.rglob("*.py*")
        if path.name not in {"__init__.py", "about.py.jinja"} and "__pycache__" not in path.parts
    )


def test_every_app_module_has_a_row() -> None:
    named = set().union(*(named_modules(cells) for cells, _ in table_rows()))
    missing = [
        module
        for module in app_modules()
        if module not in named
        and not any(module.startswith(name) for name in named if name.endswith("/"))
    ]
    assert not missing, f"add these to the table in template/tests/README.md: {missing}"


def test_every_named_test_file_exists() -> None:
    named = {name for _, tests in table_rows() for name in tests if name.endswith(".py")}
    assert named
    missing = sorted(name for name in named if not (TESTS / name).is_file())
    assert not missing, f"template/tests/README.md names test files that do not exist: {missing}"


def test_every_named_module_exists() -> None:
    named = set().union(*(named_modules(cells) for cells, _ in table_rows()))
    modules = {name for name in named if name.endswith(".py")}
    assert modules
    stale = sorted(name for name in modules if not (APP / name).is_file())
    assert not stale, f"template/tests/README.md names modules app/ no longer has: {stale}"
