"""An estimate as the preview prints it: priced lines, total, what is not priced and why,
the $0 lines with their AWS pages, the date of every price source, and the assumptions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .estimate import Estimate, Free
    from .prices import Source


def source_tag(source: Source) -> str:
    """A short name for a line: the feed, the offer file, or the secondary page, and its date."""
    if source.kind == "feed":
        name = source.name.split("@", 1)[0] + " feed"
    elif source.kind == "offer-file":
        name = source.name.split(":")[1] + " offer file"
    elif source.secondary:
        name = "SECONDARY " + source.name.removeprefix("secondary:")
    else:
        name = source.name
    return f"{name} {source.dated}"


def _free_groups(free: list[Free]) -> list[tuple[str, int, str, str]]:
    """(type, count, reason, page) with one row a type."""
    groups: dict[str, list[Free]] = {}
    for x in free:
        groups.setdefault(x.type, []).append(x)
    return [(t, len(xs), xs[0].charge.reason, xs[0].charge.page) for t, xs in groups.items()]


def render(estimate: Estimate) -> list[str]:
    e = estimate
    out = [f"Cost (estimated, USD a month, {e.region}; price sources and their dates below)"]
    out += [
        f"  {x.monthly_usd:>10,.2f}  {x.resource}  {x.item}  "
        f"[{x.basis} · {source_tag(x.price.source)}]"
        for x in e.lines
    ]
    out.append(f"  {e.total_usd:>10,.2f}  TOTAL ({e.summary()})")
    if e.not_priced:
        out.append("  Not priced, so not in the total:")
        grouped: dict[str, list[str]] = {}
        for n in e.not_priced:
            grouped.setdefault(n.reason, []).append(f"{n.resource} ({n.item})")
        out += [f"    {reason}: {', '.join(parts)}" for reason, parts in grouped.items()]
    if e.free:
        out.append("  No charge ($0 lines; AWS makes no charge for these, the page says so):")
        out += [
            f"  {0:>10,.2f}  {count} x {type_}  {reason}" + (f"  <{page}>" if page else "")
            for type_, count, reason, page in _free_groups(e.free)
        ]
    if e.sources:
        out.append("  Price sources (data dates; each line's rateCode is in the JSON, `--json`):")
        out += [
            f"    {s.dated}  {source_tag(s).rsplit(' ', 1)[0]}: {s.page}"
            + ("  (SECONDARY: not AWS's own data)" if s.secondary else "")
            for s in e.sources
        ]
    out.append("  Assumptions:")
    out += [f"    {a}" for a in e.traffic.assumptions()]
    return out
