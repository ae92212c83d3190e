"""Tools to break a previewed stack on purpose: each policy must catch its breakage.

A breakage edits the captured resources (Pulumi wire names, camelCase) of one answer set's
stack the way a careless change to the program would, and names the policy that must fail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Resources = list[dict[str, Any]]


@dataclass(frozen=True)
class Breakage:
    """`apply` breaks the resources of `answer_set`'s `stack`; only `policy` may then fail.

    `project` "bootstrap" breaks the preview of infra/bootstrap/ instead of a service stack.
    """

    policy: str
    apply: Callable[[Resources], None]
    answer_set: str = "defaults"
    stack: str = "prod"
    project: str = "service"


def first(resources: Resources, type_: str, primary: bool = False) -> dict[str, Any]:
    return next(
        r["inputs"]
        for r in resources
        if r["type"] == type_ and not (primary and r["inputs"].get("replicateSourceDb"))
    )


def add(resources: Resources, type_: str, name: str, **inputs: Any) -> None:
    resources.append({"type": type_, "name": name, "parent": None, "inputs": inputs})
