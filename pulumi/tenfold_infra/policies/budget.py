"""A cost cap: the stack's `monthlyBudget` fails the preview when the cost estimate exceeds it.

Not in POLICIES: it needs the stack config's budget, which the resources do not carry, so
the offline preview adds it when `monthlyBudget` is set. The estimate counts only priced
parts, so a stack over budget on those alone fails; parts without a price are named.
"""

from __future__ import annotations

from ..cost import Traffic, estimate, load_prices
from ..cost.estimate import region_of
from .model import Policy, Resource

NAME = "monthly-budget"


def monthly_budget(budget_usd: float, traffic: Traffic | None = None) -> Policy:
    def check(resources: list[Resource]) -> list[str]:
        triples = [(r.type, r.name, r.props) for r in resources]
        region = region_of(triples) or ""
        cost = estimate(triples, load_prices(region), traffic)
        if cost.total_usd <= budget_usd:
            return []
        top = sorted(cost.by_resource().items(), key=lambda kv: -kv[1])[:3]
        return [
            f"estimated {cost.summary()} exceeds monthlyBudget ${budget_usd:,.2f}; the largest "
            f"parts: {', '.join(f'{name} ${usd:,.2f}' for name, usd in top)}. Shrink them "
            "(`make capacity` sizes the stack for a traffic level) or raise monthlyBudget"
        ]

    return Policy(
        NAME,
        f"the cost estimate stays within monthlyBudget ${budget_usd:,.2f} a month",
        check,
    )
