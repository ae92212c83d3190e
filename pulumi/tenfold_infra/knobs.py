"""Stack settings ("knobs"), each declared once: a field of its component's settings class.

A knob is a frozen-dataclass field whose default is the production choice; `dev=` gives the
dev tier's value where it differs. `config.py` reads every settings class the same way: a
value in Pulumi.<stack>.yaml wins, else the tier's default. So a default lives only here,
beside the component that uses it, and the stack files carry only what the user chose.

Adding a knob: one field in the component's `*Settings` class, the component reading it,
and `python -m tenfold_infra keys > docs/assets/stack-keys-table.md` for the docs (see
docs/deploy.md, "Adding a stack setting").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


class Refused(ValueError):
    """A value a check refuses, with a message more precise than the check's `allowed`."""


class KnobError(ValueError):
    """Values that are fine alone but not together; config.py prefixes the namespace."""

    def __init__(self, key: str, allowed: str, value: object) -> None:
        super().__init__(f"{key} {allowed}, got {value!r}")
        self.key, self.allowed, self.value = key, allowed, value


@dataclass(frozen=True)
class Check:
    """How a knob's text (as Pulumi stores config) becomes a value, and what it accepts."""

    allowed: str
    parse: Callable[[str], object]


class _NoDev:
    def __repr__(self) -> str:
        return "(same as prod)"


SAME_AS_PROD: Any = _NoDev()


@dataclass(frozen=True)
class Knob:
    key: str
    check: Check
    dev: object = SAME_AS_PROD
    # One line for the docs' table of keys.
    doc: str = ""


def knob(key: str, default: Any, check: Check, *, dev: Any = SAME_AS_PROD, doc: str = "") -> Any:
    """A settings field read from `<project>:<key>`; `default` is prod's, `dev` the dev tier's."""
    return field(default=default, metadata={"knob": Knob(key, check, dev, doc or check.allowed)})


def knobs_of(settings: type) -> list[tuple[str, Knob, object]]:
    """(field name, knob, prod default) of every knob field of a settings class."""
    from dataclasses import fields

    return [
        (f.name, f.metadata["knob"], f.default) for f in fields(settings) if "knob" in f.metadata
    ]


def whole(low: int, high: int, choices: Sequence[int] = ()) -> Check:
    allowed = (
        f"must be one of {', '.join(map(str, choices))}"
        if choices
        else f"must be a whole number from {low} to {high}"
    )

    def parse(text: str) -> int:
        number = int(text)
        if not low <= number <= high or (choices and number not in choices):
            raise ValueError
        return number

    return Check(allowed, parse)


def one_of(*choices: str) -> Check:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError
        return text

    return Check(f"must be one of {', '.join(choices)}", parse)


def flag() -> Check:
    def parse(text: str) -> bool:
        if text.lower() not in ("true", "false"):
            raise ValueError
        return text.lower() == "true"

    return Check("must be true or false", parse)


def matching(pattern: str, allowed: str) -> Check:
    def parse(text: str) -> str:
        if not re.fullmatch(pattern, text):
            raise ValueError
        return text

    return Check(allowed, parse)


def text_list(low: int, high: int, allowed: str) -> Check:
    """A YAML list of strings (Pulumi hands it over as JSON text)."""

    def parse(text: str) -> tuple[str, ...]:
        values = json.loads(text)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError
        if not low <= len(values) <= high:
            raise ValueError
        return tuple(values)

    return Check(allowed, parse)
