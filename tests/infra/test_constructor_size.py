"""Component constructors stay short enough to read as a table of contents (issue 12).

A constructor that wires every child inline grows past a screen; the components split the
wiring into named private builders, and this test keeps it that way.
"""

from __future__ import annotations

import ast
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "pulumi" / "tenfold_infra"
MAX_CONSTRUCTOR_LINES = 80


def constructor_lengths() -> dict[str, int]:
    """`module.Class.__init__` -> lines from `def` to its last statement, for every class."""
    lengths = {}
    for path in sorted(LIBRARY.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for cls in ast.walk(tree):
            if not isinstance(cls, ast.ClassDef):
                continue
            for item in cls.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    where = path.relative_to(LIBRARY).with_suffix("").as_posix().replace("/", ".")
                    end = item.end_lineno or item.lineno
                    lengths[f"{where}.{cls.name}.__init__"] = end - item.lineno + 1
    return lengths


def test_the_library_has_constructors_to_measure() -> None:
    lengths = constructor_lengths()
    assert "network.Network.__init__" in lengths, sorted(lengths)


def test_no_constructor_is_over_80_lines() -> None:
    too_long = {
        name: lines
        for name, lines in constructor_lengths().items()
        if lines > MAX_CONSTRUCTOR_LINES
    }
    assert not too_long, (
        f"constructors over {MAX_CONSTRUCTOR_LINES} lines: {too_long}; move the wiring into "
        "named private builders so __init__ reads as a table of contents"
    )
