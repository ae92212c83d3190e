"""Rebuild prices.json from the AWS Price List bulk offer files (needs the Price List reachable).

One run reads, for every offer below and every region asked for, the offer's region file:

    <base>/offers/v1.0/aws/index.json                     -> offers[code].currentRegionIndexUrl
    <base>/offers/v1.0/aws/<code>/current/region_index.json -> regions[region].currentVersionUrl
    <base>/offers/v1.0/aws/<code>/<version>/<region>/index.json

A region file is {formatVersion, offerCode, version, publicationDate, products: {sku:
{sku, productFamily, attributes}}, terms: {OnDemand: {sku: {"<sku>.<term>": {priceDimensions:
{rate: {unit, pricePerUnit: {USD}, beginRange, endRange, description}}}}}}}. CloudFront is
global: its one offer file (index.json's currentVersionUrl) prices every edge location.
https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-the-aws-price-list-bulk-api.html

Each rule in rules.py turns one kind of product into one snapshot key. Region files run to
hundreds of megabytes (AmazonEC2's to gigabytes), so they are read as a stream and only the
products a rule recognises are kept. Nothing is written until every file has been read.
"""

from __future__ import annotations

import io
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any

from . import snapshot
from .keys import REGIONS, asks_for, template_instance_types
from .rules import GLOBAL_OFFERS, RULES, SCALE, Attributes

PRICE_LIST = "https://pricing.us-east-1.amazonaws.com"
INDEX = "/offers/v1.0/aws/index.json"
TIMEOUT_SECONDS = 60

Opener = Callable[[str], AbstractContextManager[IO[bytes]]]


class RefreshError(Exception):
    """The Price List could not be read; the snapshot is left as it was."""


def _open(url: str) -> AbstractContextManager[IO[bytes]]:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) URL: {url}")
    return urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS)  # type: ignore[no-any-return]  # noqa: S310


# --- reading a region file as a stream ---------------------------------------------------

_DECODER = json.JSONDecoder()


class _Stream:
    """Just enough of a streaming JSON reader to walk an offer file's three object levels
    (products, terms, OnDemand) and decode each SKU's value on its own."""

    chunk = 1 << 20

    def __init__(self, text: IO[str]) -> None:
        self.text, self.buffer, self.at = text, "", 0

    def _more(self) -> bool:
        chunk = self.text.read(self.chunk)
        self.buffer, self.at = self.buffer[self.at :] + chunk, 0
        return bool(chunk)

    def peek(self) -> str:
        while True:
            while self.at < len(self.buffer) and self.buffer[self.at] in " \t\r\n":
                self.at += 1
            if self.at < len(self.buffer):
                return self.buffer[self.at]
            if not self._more():
                raise ValueError("the offer file ends early")

    def take(self, char: str) -> None:
        if self.peek() != char:
            raise ValueError(f"expected {char!r} at {self.buffer[self.at : self.at + 40]!r}")
        self.at += 1

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buffer, self.at)
            except json.JSONDecodeError:
                if not self._more():
                    raise
                continue
            if end == len(self.buffer) and self._more():
                continue  # a number cut at the chunk's end: decode it whole
            self.at = end
            return value

    def members(self) -> Iterator[str]:
        """The keys of the object that starts here; the caller reads each key's value."""
        self.take("{")
        if self.peek() == "}":
            self.at += 1
            return
        while True:
            key = self.value()
            self.take(":")
            yield str(key)
            separator = self.peek()
            self.at += 1
            if separator == "}":
                return
            if separator != ",":
                raise ValueError(f"expected ',' or '}}' after the value of {key!r}")


def read_offer(raw: IO[bytes], keep: Callable[[Mapping[str, Any]], bool]) -> dict[str, Any]:
    """An offer file with only the products `keep` accepts and their OnDemand terms."""
    stream = _Stream(io.TextIOWrapper(raw, encoding="utf-8"))
    offer: dict[str, Any] = {"products": {}, "terms": {"OnDemand": {}}}
    products_read = False
    for key in stream.members():
        if key == "products":
            for sku in stream.members():
                product = stream.value()
                if keep(product):
                    offer["products"][sku] = product
            products_read = True
        elif key == "terms":
            for kind in stream.members():
                for sku in stream.members():
                    term = stream.value()
                    wanted = sku in offer["products"] or not products_read
                    if kind == "OnDemand" and wanted:
                        offer["terms"]["OnDemand"][sku] = term
        else:
            offer[key] = stream.value()
    return offer


# --- turning products into figures ---------------------------------------------------------


def _key(code: str, product: Mapping[str, Any], region: str) -> str | None:
    attributes: Attributes = product.get("attributes", {})
    if code not in GLOBAL_OFFERS:
        if attributes.get("regionCode", region) != region:
            return None
        if attributes.get("locationType", "AWS Region") != "AWS Region":
            return None  # Local Zones, Wavelength and Outposts are priced apart
    return RULES[code](str(product.get("productFamily", "")), attributes, region)


def _keeps(code: str, region: str) -> Callable[[Mapping[str, Any]], bool]:
    """Whether a product of `code` is one a rule prices in `region` ("" for a global offer)."""
    return lambda product: _key(code, product, region) is not None


def _first_paid_tier(term: Mapping[str, Any]) -> float | None:
    """The price of the lowest tier (smallest beginRange) that is not free. Tiered prices
    (data out, storage, endpoint bytes) fall with volume: the first tier is the highest, which
    suits the traffic the estimate states. A free tier is skipped: the estimate assumes none,
    and OnDemand terms also carry $0 'reserved instance applied' dimensions."""
    tiers = sorted(
        (float(d.get("beginRange", "0")), float(d["pricePerUnit"]["USD"]))
        for t in term.values()
        for d in t.get("priceDimensions", {}).values()
        if "USD" in d.get("pricePerUnit", {})
    )
    return next((usd for _, usd in tiers if usd > 0), None)


def parse_offer(
    offer: Mapping[str, Any],
    region: str,
    source: str,
    instance_types: frozenset[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """The snapshot entries of one offer file for `region` that the estimator asks for
    (with `instance_types`; None: every type the offer prices), each naming `source`."""
    code = str(offer["offerCode"])
    on_demand: Mapping[str, Any] = offer.get("terms", {}).get("OnDemand", {})
    found: dict[str, dict[str, Any]] = {}
    for sku in sorted(offer.get("products", {})):
        key = _key(code, offer["products"][sku], region)
        if key is None or key in found:
            continue
        if instance_types is not None and not asks_for(key, region, instance_types):
            continue
        usd = _first_paid_tier(on_demand.get(sku, {}))
        if usd is not None:
            found[key] = {"usd": round(usd * SCALE.get(key, 1.0), 10), "source": source}
    return found


# --- fetching -------------------------------------------------------------------------------


def _fetch_json(url: str, service: str, opener: Opener) -> Any:
    try:
        with opener(url) as response:
            return json.load(response)
    except (OSError, ValueError) as error:
        raise _unreachable(url, service, error) from error


def _unreachable(url: str, service: str, error: Exception) -> RefreshError:
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    return RefreshError(
        f"could not read the AWS Price List for {service} at {url}: {reason}. "
        "cost-refresh needs the Price List reachable (pricing.us-east-1.amazonaws.com); "
        "the price snapshot was left unchanged."
    )


def _offer_file(
    url: str, service: str, keep: Callable[[Mapping[str, Any]], bool], opener: Opener
) -> dict[str, Any]:
    try:
        with opener(url) as response:
            return read_offer(response, keep)
    except (OSError, ValueError) as error:
        raise _unreachable(url, service, error) from error


def _source(
    code: str, region: str, offer: Mapping[str, Any], url: str
) -> tuple[str, dict[str, str]]:
    version, published = str(offer.get("version", "?")), str(offer.get("publicationDate", "?"))
    name = f"aws-price-list:{code}:{region}:{version}"
    return name, {
        "kind": "offer-file",
        "page": url,
        "states": f"{code} OnDemand prices for {region}, offer version {version}; "
        "the first paid tier of a tiered price",
        "dated": published[:10],
        "published": published,
    }


def collect(
    regions: Iterable[str],
    instance_types: frozenset[str],
    opener: Opener = _open,
    base: str = PRICE_LIST,
) -> tuple[snapshot.Figures, snapshot.Sources]:
    """Every figure the rules find that the estimator asks for, by region, and the sources
    they name."""
    regions = list(regions)
    index = _fetch_json(base + INDEX, "the offer index", opener)
    figures: dict[str, dict[str, dict[str, Any]]] = {region: {} for region in regions}
    sources: dict[str, dict[str, str]] = {}
    for code in RULES:
        entry = index.get("offers", {}).get(code)
        if entry is None:
            raise RefreshError(f"the AWS Price List index at {base + INDEX} lists no {code} offer")
        if code in GLOBAL_OFFERS:
            url = base + entry["currentVersionUrl"]
            offer = _offer_file(url, code, _keeps(code, ""), opener)
            for region in regions:
                name, source = _source(code, "global", offer, url)
                found = parse_offer(offer, region, name, instance_types)
                figures[region].update(found)
                sources.update({name: source} if found else {})
            continue
        region_index = _fetch_json(base + entry["currentRegionIndexUrl"], code, opener)
        for region in regions:
            listed = region_index.get("regions", {}).get(region)
            if listed is None:
                continue  # the service is not sold there: its figures stay not priced
            url = base + listed["currentVersionUrl"]
            offer = _offer_file(url, f"{code} {region}", _keeps(code, region), opener)
            name, source = _source(code, region, offer, url)
            found = parse_offer(offer, region, name, instance_types)
            figures[region].update(found)
            sources.update({name: source} if found else {})
    return figures, sources


HOW = (
    "Rebuilt by `python -m tenfold_infra cost-refresh` from the AWS Price List bulk offer "
    "files: every figure names its offer file, region, offer version and publication date; "
    "a key the offer files lack keeps its figure from AWS's pricing-page feeds "
    "(`--from-feeds`). A tiered price is its first paid tier. A region or item without a "
    "figure is not priced."
)


def rebuild(
    regions: Iterable[str] = REGIONS,
    opener: Opener = _open,
    path: Path = snapshot.SNAPSHOT,
    base: str = PRICE_LIST,
    add_instance_types: Iterable[str] = (),
) -> dict[str, int]:
    """Put the offer files' figures (the primary source) in `regions`, over any feed figure
    of the same key, and write the snapshot atomically; returns how many figures each region
    took from the offer files. Raises RefreshError, writing nothing, when a file cannot be
    read."""
    data = snapshot.load(path)
    extra = sorted(set(data.get("instance_types", [])) | set(add_instance_types))
    types = template_instance_types() | set(extra)
    figures, sources = collect(regions, types, opener, base)
    for region, found in figures.items():
        # The offer files win; a pricing-page feed figure stays for a key they lack.
        feed = {
            key: figure
            for key, figure in data["regions"].get(region, {}).items()
            if data["sources"].get(figure["source"], {}).get("kind") == "feed"
            and asks_for(key, region, types)
        }
        data["regions"][region] = {**feed, **found}
    data["sources"].update(sources)
    data["instance_types"] = extra
    snapshot.write(data, HOW, types, path)
    return {region: len(found) for region, found in figures.items()}


def main(regions: list[str] | None, instance_types: list[str] | None = None) -> int:
    """`python -m tenfold_infra cost-refresh [--region R]...`: every supported region unless
    some are named."""
    try:
        counts = rebuild(regions or REGIONS, add_instance_types=instance_types or ())
    except RefreshError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for region, count in counts.items():
        print(f"{region}: {count} figures from the AWS Price List offer files")
    print(f"wrote {snapshot.SNAPSHOT}")
    return 0
