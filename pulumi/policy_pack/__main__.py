"""Pulumi policy pack: the same checks as the offline preview, for `pulumi preview --policy-pack`.

From a service's infra/: `pulumi preview --policy-pack policy_pack`. The checks live in
tenfold_infra/policies.py (standard library only), next to this directory.
"""

import sys
from collections.abc import Callable
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack, StackValidationArgs, StackValidationPolicy

# infra/policy_pack/ -> infra/ (service) or pulumi/policy_pack/ -> pulumi/ (template repo).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tenfold_infra.policies import POLICIES, Policy, Resource


def _validator(
    policy: Policy,
) -> Callable[[StackValidationArgs, Callable[[str, str | None], None]], None]:
    def validate(
        args: StackValidationArgs, report_violation: Callable[[str, str | None], None]
    ) -> None:
        resources = [Resource(r.resource_type, r.name, dict(r.props)) for r in args.resources]
        for problem in policy.check(resources):
            report_violation(problem, None)

    return validate


PolicyPack(
    name="tenfold-aws",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        StackValidationPolicy(name=p.name, description=p.description, validate=_validator(p))
        for p in POLICIES
    ],
)
