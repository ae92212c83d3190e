"""The price snapshot: one figure per (region, item key), each naming where it came from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from .keys import instance_type_of
from .snapshot import SNAPSHOT


@dataclass(frozen=True)
class Source:
    """Where figures come from: an offer file, a pricing-page feed, or a secondary page."""

    name: str
    kind: str  # offer-file | feed | secondary
    page: str
    dated: str  # the publication date of the data (YYYY-MM-DD)
    states: str

    @property
    def secondary(self) -> bool:
        return self.kind == "secondary"


@dataclass(frozen=True)
class Price:
    usd: float
    source: Source
    rate_code: str | None = None  # <SKU>.<term>.<rate>, as the Price List offer files name it
    label: str | None = None  # the feed row's label, where the feed form has no rateCode

    @property
    def reference(self) -> str:
        """The figure's own identifier in its source."""
        return self.rate_code or (f"label {self.label!r}" if self.label else self.source.name)


@dataclass(frozen=True)
class PriceBook:
    """The figures of one region, or none when the snapshot does not cover it."""

    region: str
    date: str  # when the snapshot was built
    prices: dict[str, Price]
    # The instance types the snapshot carries, and known gaps (key pattern -> why).
    instance_types: frozenset[str] = frozenset()
    gaps: dict[str, str] = field(default_factory=dict)

    @property
    def covers_region(self) -> bool:
        return bool(self.prices)

    def get(self, key: str) -> Price | None:
        return self.prices.get(key)

    def missing(self, key: str) -> str:
        """Why `key` has no figure here, for the estimate's "not priced" list."""
        if not self.covers_region:
            return f"the price snapshot has no figures for {self.region}"
        for pattern, why in self.gaps.items():
            if fnmatchcase(key, pattern):
                return f"no {key} figure for {self.region}: {why}"
        instance = instance_type_of(key)
        if instance and instance[0] not in self.instance_types:
            return (
                f"no {key} figure for {self.region}: the snapshot carries the instance types of "
                "the template's defaults and `make capacity`; add this one with `python -m "
                f"tenfold_infra cost-refresh --from-feeds DIR --instance-type {instance[0]}`"
            )
        return f"no {key} figure for {self.region} in the price snapshot"


def _source(name: str, entry: dict[str, Any]) -> Source:
    return Source(
        name,
        str(entry.get("kind", "page")),
        str(entry.get("page", "")),
        str(entry.get("dated", "")),
        str(entry.get("states", "")),
    )


def load_prices(region: str, path: Path = SNAPSHOT) -> PriceBook:
    data: dict[str, Any] = json.loads(path.read_text())
    sources = {name: _source(name, entry) for name, entry in data["sources"].items()}
    return PriceBook(
        region,
        str(data["date"]),
        {
            key: Price(float(p["usd"]), sources[p["source"]], p.get("rateCode"), p.get("label"))
            for key, p in data["regions"].get(region, {}).items()
        },
        frozenset(data.get("instance_types_carried", ())),
        {gap["keys"]: gap["why"] for gap in data.get("gaps", ())},
    )
