"""Writing prices.json: shared by the offer-file refresh and the feed import.

A snapshot is `{date, how, instance_types, sources: {name: {kind, page, dated, states}},
regions: {region: {key: {usd, source, rateCode?, label?}}}}`. `kind` is `offer-file` (the
AWS Price List, the primary source wherever it can be reached), `feed` (AWS's pricing-page
feeds) or `secondary` (a dated page other than AWS's, for a figure neither has; the estimate
marks it). Secondary figures live in secondary.json, kept by hand with the page and date
they were read from, and fill only keys the primary data leaves empty.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .keys import asks_for

SNAPSHOT = Path(__file__).with_name("prices.json")
SECONDARY = Path(__file__).with_name("secondary.json")

Figures = dict[str, dict[str, dict[str, Any]]]  # region -> key -> figure
Sources = dict[str, dict[str, str]]


def load(path: Path = SNAPSHOT) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def fill_secondary(
    data: dict[str, Any], instance_types: frozenset[str], path: Path = SECONDARY
) -> int:
    """Add secondary.json's figures for keys the snapshot's regions lack, and its known gaps
    (keys no source prices, with why); how many figures were added."""
    kept = json.loads(path.read_text()) if path.exists() else {}
    data["gaps"] = kept.get("gaps", [])
    added = 0
    for name, entry in kept.get("sources", {}).items():
        source = f"secondary:{name}"
        for region, figures in entry.get("figures", {}).items():
            found = data["regions"].setdefault(region, {})
            for key, usd in figures.items():
                if key not in found and asks_for(key, region, instance_types):
                    found[key] = {"usd": usd, "source": source}
                    added += 1
        data["sources"][source] = {
            "kind": "secondary",
            "page": entry["page"],
            "dated": entry["dated"],
            "states": entry["states"],
        }
    return added


def _dumps(data: Mapping[str, Any]) -> str:
    """JSON with one figure a line, so a refresh reads as a diff of prices."""
    head = {k: v for k, v in data.items() if k != "regions"}
    text = json.dumps(head, indent=2)[:-2] + ',\n  "regions": {'
    regions = []
    for region, figures in data["regions"].items():
        lines = [f"      {json.dumps(k)}: {json.dumps(v)}" for k, v in figures.items()]
        opening = (
            "\n    " + json.dumps(region) + ": {\n"
        )  # a double brace would read as Jinja in a render
        regions.append(opening + ",\n".join(lines) + "\n    }")
    return text + ",".join(regions) + "\n  }\n}\n"


def write(
    data: dict[str, Any], how: str, instance_types: frozenset[str], path: Path = SNAPSHOT
) -> None:
    """Fill secondary figures, drop unused sources, date the snapshot and replace `path`
    atomically (a reader never sees half a file)."""
    fill_secondary(data, instance_types)
    data["instance_types_carried"] = sorted(instance_types)
    data["regions"] = {
        region: dict(sorted(figures.items()))
        for region, figures in sorted(data["regions"].items())
        if figures
    }
    used = {f["source"] for figures in data["regions"].values() for f in figures.values()}
    data["sources"] = {name: s for name, s in sorted(data["sources"].items()) if name in used}
    data["date"] = datetime.now(UTC).date().isoformat()
    data["how"] = how
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".prices-", suffix=".json")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(_dumps(data))
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would stick to the snapshot
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
