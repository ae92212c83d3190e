"""Each policy catches a deliberately broken resource, and only that policy fails."""

from __future__ import annotations

import copy
import runpy
from typing import Any

import breakages_baseline
import breakages_bootstrap
import breakages_edge
import breakages_platform
import pytest
from breakage import Breakage, Resources
from breakages_baseline import alb_keeps_invalid_headers, single_az_prod_database
from rendered_bootstrap import bootstrap
from rendered_services import REPO, Rendered, rendered
from tenfold_infra.policies import POLICIES, Resource, evaluate

BREAKAGES: list[Breakage] = [
    *breakages_baseline.BREAKAGES,
    *breakages_edge.BREAKAGES,
    *breakages_platform.BREAKAGES,
    *breakages_bootstrap.BREAKAGES,
]


def as_policy_input(resources: Resources) -> list[Resource]:
    return [Resource(r["type"], r["name"], r["inputs"]) for r in resources]


def test_every_policy_has_a_breakage() -> None:
    assert sorted(b.policy for b in BREAKAGES) == sorted(p.name for p in POLICIES)


@pytest.mark.parametrize("breakage", BREAKAGES, ids=[b.policy for b in BREAKAGES])
def test_policy_catches_broken_resource(breakage: Breakage) -> None:
    rendered_project = bootstrap if breakage.project == "bootstrap" else rendered
    resources = copy.deepcopy(
        rendered_project(breakage.answer_set).previews[breakage.stack]["resources"]
    )
    assert all(f.passed for f in evaluate(as_policy_input(resources)))
    breakage.apply(resources)
    failed = {f.name: f.message for f in evaluate(as_policy_input(resources)) if not f.passed}
    assert set(failed) == {breakage.policy}
    assert failed[breakage.policy]  # says which resource and why


def test_prod_without_a_domain_is_warned_about_the_default_certificate(
    default_service: Rendered,
) -> None:
    """tls-1-2-or-newer passes (AWS pins *.cloudfront.net to TLSv1, nothing to set) but tells
    the truth: prod gets a warning that says what a domain buys; dev does not."""
    tls = {
        stack: next(
            p
            for p in default_service.previews[stack]["policies"]
            if p["name"] == "tls-1-2-or-newer"
        )
        for stack in ("dev", "prod")
    }
    assert tls["prod"]["passed"]
    (warning,) = tls["prod"]["warnings"]
    assert "accepts TLS 1.0 and 1.1" in warning
    assert "TLSv1.2_2021" in warning
    assert "domainName" in warning
    assert tls["dev"]["warnings"] == []


def test_a_domain_clears_the_warning() -> None:
    prod = rendered("domain-cdn-5-replicas").previews["prod"]
    assert next(p for p in prod["policies"] if p["name"] == "tls-1-2-or-newer")["warnings"] == []


def test_prod_rules_do_not_apply_to_dev(default_service: Rendered) -> None:
    resources = copy.deepcopy(default_service.previews["prod"]["resources"])
    for r in resources:
        if isinstance(r["inputs"].get("tags"), dict):  # an image's tags are a list
            r["inputs"]["tags"]["Tier"] = "dev"
    single_az_prod_database(resources)
    assert all(f.passed for f in evaluate(as_policy_input(resources)))


class FakePolicyResource:
    def __init__(self, r: dict[str, Any]) -> None:
        self.resource_type, self.name, self.props = r["type"], r["name"], r["inputs"]


def test_policy_pack_runs_the_same_checks(
    default_service: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pulumi_policy

    packs: list[dict[str, Any]] = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: packs.append(kwargs))
    runpy.run_path(str(REPO / "pulumi" / "policy_pack" / "__main__.py"))
    (pack,) = packs
    names = [p.name for p in pack["policies"]]
    assert [n for n in names if not n.endswith("-advice")] == [p.name for p in POLICIES]
    assert [n for n in names if n.endswith("-advice")] == [
        f"{p.name}-advice" for p in POLICIES if p.warn
    ]

    resources = copy.deepcopy(default_service.previews["prod"]["resources"])
    alb_keeps_invalid_headers(resources)
    args = type("Args", (), {"resources": [FakePolicyResource(r) for r in resources]})()
    violations: dict[str, list[str]] = {}
    for policy in pack["policies"]:
        policy.validate(
            args,
            lambda message, urn, name=policy.name: violations.setdefault(name, []).append(message),
        )
    # The prod distribution on *.cloudfront.net is advice (advisory), not a violation.
    assert sorted(violations) == ["alb-drops-invalid-headers", "tls-1-2-or-newer-advice"]
    assert "TLS 1.0" in violations["tls-1-2-or-newer-advice"][0]
