"""`python -m tenfold_infra cost-diff --base DIR --head DIR`: what a change does to the monthly bill.

Each checkout runs its own offline preview (`python -m tenfold_infra preview --stack S --json`
in its infra/ folder, so with its own vendored library and stack files); both resource
lists are then priced by this checkout's estimator and price snapshot. The difference is
what the change to the stacks costs, never a change of price data: Infracost's method for
Terraform. The output is a summary a stack (before, after, change) and the lines that
differ; `--format markdown` is the pull request comment, marked so a workflow can find and
update it instead of adding another.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .estimate import Estimate, Traffic, estimate, region_of
from .prices import load_prices

MARKER = "<!-- tenfold-cost-diff -->"
PREVIEW_TIMEOUT_SECONDS = 600


class DiffError(Exception):
    """A checkout could not be previewed: the message says which and why."""


@dataclass(frozen=True)
class LineChange:
    resource: str
    item: str
    before_usd: float
    after_usd: float

    @property
    def change_usd(self) -> float:
        return self.after_usd - self.before_usd

    @property
    def status(self) -> str:
        if not self.before_usd:
            return "added"
        return "removed" if not self.after_usd else "changed"


@dataclass
class StackChange:
    stack: str
    before: Estimate | None  # None: the stack is new in the head checkout
    after: Estimate | None  # None: the head checkout removed it
    lines: list[LineChange] = field(default_factory=list)

    @property
    def before_usd(self) -> float:
        return self.before.total_usd if self.before else 0.0

    @property
    def after_usd(self) -> float:
        return self.after.total_usd if self.after else 0.0

    @property
    def change_usd(self) -> float:
        return round(self.after_usd - self.before_usd, 2)

    def not_priced(self, side: Estimate | None) -> set[str]:
        return {f"{x.resource} ({x.item})" for x in side.not_priced} if side else set()


def stacks_of(directory: Path) -> set[str]:
    return {p.name[len("Pulumi.") : -len(".yaml")] for p in directory.glob("Pulumi.*.yaml")}


def preview_resources(directory: Path, stack: str) -> list[tuple[str, str, Mapping[str, Any]]]:
    """The resources `directory`'s own program registers for `stack` (a failing policy still
    yields them; an invalid config does not)."""
    done = subprocess.run(
        [sys.executable, "-m", "tenfold_infra", "preview", "--stack", stack, "--json"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=PREVIEW_TIMEOUT_SECONDS,
        check=False,
    )
    try:
        result = json.loads(done.stdout)
    except ValueError:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise DiffError(
            f"the preview of stack {stack} in {directory} failed (exit {done.returncode}): "
            f"{detail[-1] if detail else 'no output'}"
        ) from None
    return [(r["type"], r["name"], r["inputs"]) for r in result["resources"]]


def _priced(resources: list[tuple[str, str, Mapping[str, Any]]], traffic: Traffic) -> Estimate:
    return estimate(resources, load_prices(region_of(resources) or ""), traffic)


def _line_totals(side: Estimate | None) -> dict[tuple[str, str], tuple[str, float]]:
    totals: dict[tuple[str, str], tuple[str, float]] = {}
    for line in side.lines if side else ():
        usd = totals.get((line.resource, line.key), (line.item, 0.0))[1]
        totals[(line.resource, line.key)] = (line.item, usd + line.monthly_usd)
    return totals


def changed_lines(before: Estimate | None, after: Estimate | None) -> list[LineChange]:
    """Lines whose monthly cost differs by a cent or more, largest change first. A line is
    a resource's charge for one price key (its item text may carry a quantity)."""
    old, new = _line_totals(before), _line_totals(after)
    changes = []
    for key in old.keys() | new.keys():
        item = (new.get(key) or old[key])[0]
        was, now = old.get(key, ("", 0.0))[1], new.get(key, ("", 0.0))[1]
        if round(now, 2) != round(was, 2):
            changes.append(LineChange(key[0], item, round(was, 2), round(now, 2)))
    return sorted(changes, key=lambda c: (-abs(c.change_usd), c.resource, c.item))


def compare(
    base: Path, head: Path, stacks: list[str] | None = None, traffic: Traffic | None = None
) -> list[StackChange]:
    """Preview and price every stack of either checkout (or `stacks`), base against head."""
    for directory in (base, head):
        if not (directory / "Pulumi.yaml").is_file():
            raise DiffError(f"no Pulumi.yaml in {directory.resolve()}: pass a service's infra/")
    found_stacks = stacks_of(base) | stacks_of(head)
    names = sorted(stacks or found_stacks)
    if not names:
        raise DiffError(f"no Pulumi.<stack>.yaml in {base} or {head}")
    unknown = sorted(set(names) - found_stacks)
    if unknown:
        raise DiffError(
            f"no Pulumi.{unknown[0]}.yaml in {base} or {head}: choose from "
            f"{', '.join(sorted(found_stacks)) or '(none)'}"
        )
    traffic = traffic or Traffic()
    jobs = [(d, s) for s in names for d in (base, head) if s in stacks_of(d)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        found = dict(zip(jobs, pool.map(lambda job: preview_resources(*job), jobs), strict=True))
    result = []
    for stack in names:
        before = _priced(found[(base, stack)], traffic) if (base, stack) in found else None
        after = _priced(found[(head, stack)], traffic) if (head, stack) in found else None
        result.append(StackChange(stack, before, after, changed_lines(before, after)))
    return result


def _usd(value: float, signed: bool = False) -> str:
    sign = ("+" if value > 0 else "-" if value < 0 else "") if signed else ""
    return f"{sign}${abs(value):,.2f}"


def _percent(change: StackChange) -> str:
    if not change.before_usd or not change.change_usd:
        return ""
    return f" ({change.change_usd / change.before_usd:+.1%})"


def _total(side: Estimate | None) -> str:
    if side is None:
        return "-"
    missing = len(side.not_priced)
    return _usd(side.total_usd) + (f" + {missing} not priced" if missing else "")


def markdown(changes: list[StackChange]) -> str:
    out = [MARKER, "### Monthly cost change", ""]
    regions = sorted({e.region for c in changes for e in (c.before, c.after) if e})
    out += [
        f"Estimated by `python -m tenfold_infra cost-diff` from the offline preview of each "
        f"checkout, both priced with the head's price snapshot ({', '.join(regions)}; on-demand, "
        "730 h, the preview's stated traffic). The preview lists each price's source and date.",
        "",
        "| stack | before | after | change |",
        "| --- | ---: | ---: | ---: |",
    ]
    out += [
        f"| {c.stack} | {_total(c.before)} | {_total(c.after)} | "
        f"{_usd(c.change_usd, signed=True)}{_percent(c)} |"
        for c in changes
    ]
    for c in changes:
        if not c.lines and c.not_priced(c.before) == c.not_priced(c.after):
            continue
        out += ["", f"<details open><summary>{c.stack}: {len(c.lines)} lines differ</summary>", ""]
        if c.lines:
            out += [
                "| resource | item | before | after | change |",
                "| --- | --- | ---: | ---: | ---: |",
            ]
            out += [
                f"| {x.resource} | {x.item} | {_usd(x.before_usd) if x.before_usd else '-'} | "
                f"{_usd(x.after_usd) if x.after_usd else '-'} | {_usd(x.change_usd, signed=True)} |"
                for x in c.lines
            ]
        gone = c.not_priced(c.before) - c.not_priced(c.after)
        new = c.not_priced(c.after) - c.not_priced(c.before)
        out += [f"- newly not priced: {part}" for part in sorted(new)]
        out += [f"- no longer not priced: {part}" for part in sorted(gone)]
        out += ["", "</details>"]
    return "\n".join(out) + "\n"


def text(changes: list[StackChange]) -> str:
    out = []
    for c in changes:
        out.append(
            f"{c.stack}: {_total(c.before)} -> {_total(c.after)} a month "
            f"({_usd(c.change_usd, signed=True)}{_percent(c)})"
        )
        out += [
            f"  {x.status:<8} {_usd(x.change_usd, signed=True):>12}  {x.resource}  {x.item}"
            for x in c.lines
        ]
    return "\n".join(out) + "\n"


def to_json(changes: list[StackChange]) -> dict[str, Any]:
    return {
        "stacks": [
            {
                "stack": c.stack,
                "before_monthly_usd": c.before_usd if c.before else None,
                "after_monthly_usd": c.after_usd if c.after else None,
                "change_monthly_usd": c.change_usd,
                "not_priced_before": sorted(c.not_priced(c.before)),
                "not_priced_after": sorted(c.not_priced(c.after)),
                "lines": [
                    {
                        "resource": x.resource,
                        "item": x.item,
                        "status": x.status,
                        "before_monthly_usd": x.before_usd,
                        "after_monthly_usd": x.after_usd,
                        "change_monthly_usd": round(x.change_usd, 2),
                    }
                    for x in c.lines
                ],
            }
            for c in changes
        ]
    }


def main(args: argparse.Namespace) -> int:
    try:
        changes = compare(args.base, args.head, args.stack)
    except DiffError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(to_json(changes), indent=2))
    else:
        print(markdown(changes) if args.format == "markdown" else text(changes), end="")
    return 0
