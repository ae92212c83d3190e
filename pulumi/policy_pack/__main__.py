"""Pulumi policy pack: the same checks as the offline preview, for `pulumi preview --policy-pack`.

From a service's infra/: `pulumi preview --policy-pack policy_pack`. The checks live in
tenfold_infra/policies/ (standard library only), next to this directory. A policy's warnings
(the *.cloudfront.net certificate in prod, say) come as an advisory twin, `<name>-advice`.
The cross-stack checks (policies/stacks.py) need every stack at once: the bootstrap's offline
preview runs them, this pack cannot.
"""

import sys
from collections.abc import Callable
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack, StackValidationArgs, StackValidationPolicy

# infra/policy_pack/ -> infra/ (service) or pulumi/policy_pack/ -> pulumi/ (template repo).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tenfold_infra.policies import POLICIES, Policy, Resource


def _validator(
    check: Callable[[list[Resource]], list[str]],
) -> Callable[[StackValidationArgs, Callable[[str, str | None], None]], None]:
    def validate(
        args: StackValidationArgs, report_violation: Callable[[str, str | None], None]
    ) -> None:
        resources = [Resource(r.resource_type, r.name, dict(r.props)) for r in args.resources]
        for problem in check(resources):
            report_violation(problem, None)

    return validate


def _advice(policy: Policy) -> list[StackValidationPolicy]:
    """A policy's warnings, as an advisory twin: reported, never blocking."""
    if policy.warn is None:
        return []
    return [
        StackValidationPolicy(
            name=f"{policy.name}-advice",
            description=f"{policy.description} (advice)",
            validate=_validator(policy.warn),
            enforcement_level=EnforcementLevel.ADVISORY,
        )
    ]


PolicyPack(
    name="tenfold-aws",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        policy
        for p in POLICIES
        for policy in (
            StackValidationPolicy(
                name=p.name, description=p.description, validate=_validator(p.check)
            ),
            *_advice(p),
        )
    ],
)
