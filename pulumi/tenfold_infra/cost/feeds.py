"""Rebuild prices.json from AWS's pricing-page feeds: `cost-refresh --from-feeds DIR`.

The feeds are the JSON behind aws.amazon.com/<service>/pricing and the Pricing Calculator
(`https://b0.p.awsstatic.com/pricing/2.0/meteredUnitMaps/<service>/USD/current/<service>.json`),
kept by public repositories that snapshot them. A raw feed is

    {"manifest": {"source": "ecs", "serviceId": "ecs", "hawkFilePublicationDate": "...Z", ...},
     "sets": {...}, "regions": {"EU (Ireland)": {"<label>": {"price": "0.04048",
     "rateCode": "<SKU>.<term>.<rate>", ...}}}}

and `rateCode` uses the Price List offer files' own identifiers (JRTCKXETXF is on-demand), so
every figure stays traceable to the offer file. A processed copy
(`{label: {"<location> (<attributes>)": price}}`) has no rateCode and no date: it is read only
where feed_rules.py has a rule for it (RDS PostgreSQL instance hours, whose raw feed is too
large for the snapshots) and dated by the raw feed of the same AWS service kept beside it.

DIR is searched for feed files at any depth. Where two files hold the same feed, the newest
(by manifest.hawkFilePublicationDate) that has a row wins. Every figure names its file, its
rateCode (or its label, in the processed form) and the feed's publication date.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import snapshot
from .feed_rules import RULES, SCALE, cloudfront_figures, cloudfront_geography
from .keys import REGIONS, asks_for, template_instance_types

# Price List location names of the regions copier offers (the feeds key prices by these).
LOCATIONS = {
    "us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)", "us-west-2": "US West (Oregon)",
    "af-south-1": "Africa (Cape Town)", "ap-east-1": "Asia Pacific (Hong Kong)",
    "ap-east-2": "Asia Pacific (Taipei)", "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-south-2": "Asia Pacific (Hyderabad)", "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)", "ap-southeast-3": "Asia Pacific (Jakarta)",
    "ap-southeast-4": "Asia Pacific (Melbourne)", "ap-southeast-5": "Asia Pacific (Malaysia)",
    "ap-southeast-6": "Asia Pacific (New Zealand)", "ap-southeast-7": "Asia Pacific (Thailand)",
    "ap-northeast-1": "Asia Pacific (Tokyo)", "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)", "ca-central-1": "Canada (Central)",
    "ca-west-1": "Canada West (Calgary)", "eu-central-1": "EU (Frankfurt)",
    "eu-central-2": "EU (Zurich)", "eu-west-1": "EU (Ireland)", "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)", "eu-south-1": "EU (Milan)", "eu-south-2": "EU (Spain)",
    "eu-north-1": "EU (Stockholm)", "il-central-1": "Israel (Tel Aviv)",
    "me-south-1": "Middle East (Bahrain)", "me-central-1": "Middle East (UAE)",
    "mx-central-1": "Mexico (Central)", "sa-east-1": "South America (Sao Paulo)",
}  # fmt: skip
EVERY_REGION = "Any"  # a location whose rows price every region (CloudWatch dashboards)
# Processed files read, by file stem -> the manifest.serviceId of the raw feed that dates them.
PROCESSED = {"rds-postgresql-ondemand": "rds"}


class FeedError(Exception):
    """The feed folder cannot be read; the snapshot is left as it was."""


@dataclass(frozen=True)
class FeedFile:
    name: str  # path inside the feed folder
    feed: str  # the feed it holds: manifest.source, or the processed file's stem
    published: str  # manifest.hawkFilePublicationDate (of the dating feed, when processed)
    dated_by: str | None  # the raw feed whose date a processed file takes
    regions: Mapping[str, Mapping[str, Mapping[str, Any]]]

    @property
    def source(self) -> str:
        """The figures' short reference to this file: its feed and publication date."""
        return f"{self.feed}@{self.published[:10]}"

    def describe(self) -> dict[str, str]:
        states = f"AWS pricing-page feed '{self.feed}' (USD, on-demand), published {self.published}"
        if self.dated_by:
            states = (
                f"AWS pricing-page feed '{self.feed}' in its processed form (no rateCode, no "
                f"date: each figure names its label); dated by {self.dated_by}, the raw feed of "
                f"the same service beside it, published {self.published}"
            )
        return {"kind": "feed", "page": self.name, "dated": self.published[:10],
                "published": self.published, "states": states}  # fmt: skip


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise FeedError(f"could not read {path}: {error}") from error


def _processed_rows(data: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, Any]]:
    """{location: {label: row}} from `{label: {"<location> (<k>: <v>, ...)": price}}`."""
    regions: dict[str, dict[str, Any]] = {}
    for label, prices in data.items():
        for where, price in prices.items():
            location, attributes = where, {}
            cut = where.rfind(" (")
            if cut > 0 and where.endswith(")") and ": " in where[cut:]:
                location = where[:cut]
                pairs = (p.split(": ", 1) for p in where[cut + 2 : -1].split(", "))
                attributes = {p[0]: p[1] for p in pairs if len(p) == 2}
            regions.setdefault(location, {})[label] = {"price": price, **attributes}
    return regions


def discover(directory: Path) -> list[FeedFile]:
    """Every feed file under `directory` that a rule reads, newest first within a feed."""
    if not directory.is_dir():
        raise FeedError(f"{directory} is not a folder of AWS pricing-page feeds")
    raw: list[tuple[FeedFile, str]] = []  # with manifest.serviceId
    processed: list[tuple[Path, Any]] = []
    for path in sorted(directory.rglob("*.json")):
        data = _read(path)
        name = path.relative_to(directory).as_posix()
        if isinstance(data, dict) and isinstance(data.get("manifest"), dict):
            manifest = data["manifest"]
            feed = str(manifest.get("source", ""))
            published = str(manifest.get("hawkFilePublicationDate", ""))
            if feed and published and isinstance(data.get("regions"), dict):
                file = FeedFile(name, feed, published, None, data["regions"])
                raw.append((file, str(manifest.get("serviceId", ""))))
        elif path.stem in PROCESSED and isinstance(data, dict):
            processed.append((path, data))
    files = [f for f, _ in raw]
    for path, data in processed:
        top = path.relative_to(directory).parts[0]
        dating = [f for f, service in raw if service == PROCESSED[path.stem]
                  and f.name.split("/", 1)[0] == top]  # fmt: skip
        if dating:
            newest = max(dating, key=lambda f: f.published)
            name = path.relative_to(directory).as_posix()
            rows = _processed_rows(data)
            files.append(FeedFile(name, path.stem, newest.published, newest.name, rows))
    wanted = [f for f in files if f.feed in RULES or f.feed == "cloudfront"]
    return sorted(wanted, key=lambda f: (f.feed, f.published), reverse=True)


def _figure(row: Mapping[str, Any], label: str, key: str, file: FeedFile) -> dict[str, Any]:
    figure: dict[str, Any] = {
        "usd": round(float(row["price"]) * SCALE.get(key, 1.0), 10),
        "source": file.source,
    }
    if row.get("rateCode"):
        figure["rateCode"] = str(row["rateCode"])
    else:
        figure["label"] = label
    return figure


def _rows(
    file: FeedFile, regions: Iterable[str]
) -> Iterator[tuple[str, str, str, Mapping[str, Any]]]:
    """(region, key, label, row) for every row a rule prices, region rows before "Any"."""
    if file.feed == "cloudfront":
        by_geography = cloudfront_figures(file.regions)
        for region in regions:
            for key, row in by_geography.get(cloudfront_geography(region), {}).items():
                yield region, key, str(row.get("label", key)), row
        return
    rule = RULES[file.feed]
    for region in regions:
        for location in (LOCATIONS.get(region, ""), EVERY_REGION):
            for label, row in file.regions.get(location, {}).items():
                found = rule(label, row)
                if found:
                    yield region, found, label, row


def collect(
    directory: Path, regions: Iterable[str], instance_types: frozenset[str]
) -> tuple[snapshot.Figures, snapshot.Sources]:
    """Every figure the feeds give for `regions` that the estimator asks for (with
    `instance_types`), and the sources they name."""
    regions = list(regions)
    files = discover(directory)
    if not files:
        raise FeedError(
            f"no AWS pricing-page feed under {directory}: expected files such as ecs.json with "
            "a 'manifest' (source, hawkFilePublicationDate) and 'regions'"
        )
    figures: dict[str, dict[str, dict[str, Any]]] = {region: {} for region in regions}
    sources: dict[str, dict[str, str]] = {}
    for file in files:
        for region, key, label, row in _rows(file, regions):
            found = figures[region]
            if key in found or not asks_for(key, region, instance_types):
                continue
            if float(row["price"]) <= 0:  # a free tier or an included item: never a $0 figure
                continue
            found[key] = _figure(row, label, key, file)
            sources[file.source] = file.describe()
    return figures, sources


HOW = (
    "Rebuilt by `python -m tenfold_infra cost-refresh --from-feeds DIR` from AWS's "
    "pricing-page feeds (the JSON behind aws.amazon.com/<service>/pricing): every figure names "
    "its feed file and the feed's publication date, and its rateCode (the Price List offer "
    "files' <SKU>.<term>.<rate>) or, in the processed form, its label. Figures from the Price "
    "List offer files (`cost-refresh` where the Price List is reachable) stay: they are the "
    "primary source. A tiered price is its first paid tier. A region or item without a "
    "figure is not priced."
)


def rebuild(
    directory: Path,
    regions: Iterable[str] = REGIONS,
    path: Path = snapshot.SNAPSHOT,
    add_instance_types: Iterable[str] = (),
) -> dict[str, int]:
    """Replace the feed figures of `regions` with those `directory` gives, keep offer-file
    figures, and write the snapshot atomically; how many figures each region now has.
    Raises FeedError, writing nothing, when the folder cannot be read."""
    data = snapshot.load(path)
    extra = sorted(set(data.get("instance_types", [])) | set(add_instance_types))
    types = template_instance_types() | set(extra)
    figures, sources = collect(directory, regions, types)
    for region, found in figures.items():
        primary = {
            key: figure
            for key, figure in data["regions"].get(region, {}).items()
            if data["sources"].get(figure["source"], {}).get("kind") == "offer-file"
            and asks_for(key, region, types)
        }
        data["regions"][region] = {**found, **primary}
    data["sources"].update(sources)
    data["instance_types"] = extra
    snapshot.write(data, HOW, types, path)
    return {region: len(data["regions"].get(region, {})) for region in figures}


def main(directory: Path, regions: list[str] | None, instance_types: list[str]) -> int:
    """`python -m tenfold_infra cost-refresh --from-feeds DIR [--region R]... [--instance-type T]...`"""
    try:
        counts = rebuild(directory, regions or REGIONS, add_instance_types=instance_types)
    except FeedError as error:
        print(f"error: {error}; the price snapshot was left unchanged", file=sys.stderr)
        return 1
    for region, count in counts.items():
        print(f"{region}: {count} figures")
    print(f"wrote {snapshot.SNAPSHOT}")
    return 0
