"""The price snapshot: one figure per (region, item key), each naming where it came from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).with_name("prices.json")


@dataclass(frozen=True)
class Price:
    usd: float
    source: str


@dataclass(frozen=True)
class PriceBook:
    """The figures of one region, or none when the snapshot does not cover it."""

    region: str
    date: str
    prices: dict[str, Price]
    sources: dict[str, dict[str, str]]

    @property
    def covers_region(self) -> bool:
        return bool(self.prices)

    def get(self, key: str) -> Price | None:
        return self.prices.get(key)


def load_prices(region: str, path: Path = SNAPSHOT) -> PriceBook:
    data: dict[str, Any] = json.loads(path.read_text())
    figures = data["regions"].get(region, {})
    return PriceBook(
        region,
        str(data["date"]),
        {key: Price(float(p["usd"]), str(p["source"])) for key, p in figures.items()},
        data["sources"],
    )
