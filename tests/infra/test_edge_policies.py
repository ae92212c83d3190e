"""Policies beyond one breakage each: second faces of a rule, and botocore-derived data."""

from __future__ import annotations

import copy
import json

import breakages_edge
import breakages_platform
import pytest
from breakage import Breakage
from rendered_services import rendered
from tenfold_infra.policies import Resource, evaluate
from tenfold_infra.policies.edge import security_group_rule_budget
from tenfold_infra.policies.names import DATA, botocore_limits, name_length_limits

MORE_BREAKAGES = [*breakages_edge.MORE_BREAKAGES, *breakages_platform.MORE_BREAKAGES]


@pytest.mark.parametrize("breakage", MORE_BREAKAGES, ids=[b.apply.__name__ for b in MORE_BREAKAGES])
def test_policy_catches_second_face(breakage: Breakage) -> None:
    resources = copy.deepcopy(rendered(breakage.answer_set).previews[breakage.stack]["resources"])
    breakage.apply(resources)
    failed = {
        f.name
        for f in evaluate([Resource(r["type"], r["name"], r["inputs"]) for r in resources])
        if not f.passed
    }
    assert failed == {breakage.policy}


def test_name_limits_match_botocore() -> None:
    """name_limits.json is what scripts/name-limits writes from the installed botocore."""
    assert json.loads(DATA.read_text()) == botocore_limits()


def test_name_limits_count_the_auto_name_suffix() -> None:
    limit = 32
    fits = Resource("aws:lb/targetGroup:TargetGroup", "x" * (limit - 8), {})
    over = Resource("aws:lb/targetGroup:TargetGroup", "x" * (limit - 7), {})
    assert name_length_limits([fits]) == []
    assert "auto-name" in name_length_limits([over])[0]
    prefixed = Resource("aws:s3/bucket:Bucket", "b", {"bucketPrefix": "p" * 38})
    assert "bucketPrefix" in name_length_limits([prefixed])[0]


def test_rule_budget_weights_a_stack_prefix_list_by_its_max_entries() -> None:
    def rule(n: int) -> Resource:
        return Resource(
            "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
            f"r{n}",
            {"securityGroupId": "sg-id", "prefixListId": "pl-id", "fromPort": n, "toPort": n},
        )

    small = Resource("aws:ec2/managedPrefixList:ManagedPrefixList", "pl", {"maxEntries": 20})
    assert security_group_rule_budget([small, rule(1), rule(2), rule(3)]) == []
    assert security_group_rule_budget([small, *(rule(n) for n in range(4))])
