"""Checks over the resources a stack would create, shared by the offline preview and the policy pack.

Each module holds the checks of one concern; this package runs them all. Standard library
only, so the pulumi-policy pack imports it without pulumi_aws. Every check that encodes an
AWS rule cites the AWS page that states it, and `tests/infra` breaks each one on purpose.
"""

from __future__ import annotations

from .baseline import BASELINE
from .bootstrap import BOOTSTRAP
from .edge import EDGE
from .model import Finding, Policy, Resource
from .names import NAMES
from .platform import PLATFORM
from .stacks import CROSS_STACK, CrossStackPolicy, StackPlan, evaluate_stacks

POLICIES: tuple[Policy, ...] = (*BASELINE, *EDGE, *NAMES, *PLATFORM, *BOOTSTRAP)

__all__ = [
    "CROSS_STACK",
    "POLICIES",
    "CrossStackPolicy",
    "Finding",
    "Policy",
    "Resource",
    "StackPlan",
    "evaluate",
    "evaluate_stacks",
]


def evaluate(resources: list[Resource]) -> list[Finding]:
    """Run every policy; a passing policy says what it checked, a failing one lists each violation."""
    findings = []
    for policy in POLICIES:
        problems = policy.check(resources)
        findings.append(
            Finding(
                policy.name,
                not problems,
                "; ".join(problems) if problems else policy.description,
                tuple(policy.warn(resources)) if policy.warn else (),
            )
        )
    return findings
