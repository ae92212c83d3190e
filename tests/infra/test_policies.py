"""Each policy catches a deliberately broken resource, and only that policy fails."""

from __future__ import annotations

import copy
import runpy
from collections.abc import Callable
from typing import Any

import pytest
from rendered_services import REPO, Rendered
from tenfold_infra.policies import POLICIES, Resource, evaluate

Resources = list[dict[str, Any]]


def first(resources: Resources, type_: str, primary: bool = False) -> dict[str, Any]:
    return next(
        r["inputs"]
        for r in resources
        if r["type"] == type_ and not (primary and r["inputs"].get("replicateSourceDb"))
    )


def add(resources: Resources, type_: str, name: str, **inputs: Any) -> None:
    resources.append({"type": type_, "name": name, "parent": None, "inputs": inputs})


def unencrypted_database(rs: Resources) -> None:
    first(rs, "aws:rds/instance:Instance", primary=True)["storageEncrypted"] = False


def plaintext_cache(rs: Resources) -> None:
    first(rs, "aws:elasticache/replicationGroup:ReplicationGroup")["transitEncryptionEnabled"] = (
        False
    )


def public_database(rs: Resources) -> None:
    first(rs, "aws:rds/instance:Instance", primary=True)["publiclyAccessible"] = True


def database_open_to_internet(rs: Resources) -> None:
    add(
        rs,
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "broken-db-world",
        ipProtocol="tcp",
        fromPort=5432,
        toPort=5432,
        cidrIpv4="0.0.0.0/0",
    )


def single_az_prod_database(rs: Resources) -> None:
    first(rs, "aws:rds/instance:Instance", primary=True)["multiAz"] = False


def old_tls_listener(rs: Resources) -> None:
    add(
        rs,
        "aws:lb/listener:Listener",
        "broken-https",
        port=443,
        protocol="HTTPS",
        sslPolicy="ELBSecurityPolicy-2016-08",
    )


def uncompressed_cdn(rs: Resources) -> None:
    first(rs, "aws:cloudfront/distribution:Distribution")["defaultCacheBehavior"]["compress"] = (
        False
    )


def alb_keeps_invalid_headers(rs: Resources) -> None:
    first(rs, "aws:lb/loadBalancer:LoadBalancer")["dropInvalidHeaderFields"] = False


def log_group_kept_forever(rs: Resources) -> None:
    del first(rs, "aws:cloudwatch/logGroup:LogGroup")["retentionInDays"]


BREAKAGES: dict[str, Callable[[Resources], None]] = {
    "encryption-at-rest": unencrypted_database,
    "encryption-in-transit": plaintext_cache,
    "no-public-stateful": public_database,
    "security-group-least-privilege": database_open_to_internet,
    "production-resilience": single_az_prod_database,
    "tls-1-2-or-newer": old_tls_listener,
    "cdn-compression-and-http2": uncompressed_cdn,
    "alb-drops-invalid-headers": alb_keeps_invalid_headers,
    "log-retention": log_group_kept_forever,
}


def as_policy_input(resources: Resources) -> list[Resource]:
    return [Resource(r["type"], r["name"], r["inputs"]) for r in resources]


def test_every_policy_has_a_breakage() -> None:
    assert set(BREAKAGES) == {p.name for p in POLICIES}


@pytest.mark.parametrize("policy", list(BREAKAGES))
def test_policy_catches_broken_resource(default_service: Rendered, policy: str) -> None:
    resources = copy.deepcopy(default_service.previews["prod"]["resources"])
    assert all(f.passed for f in evaluate(as_policy_input(resources)))
    BREAKAGES[policy](resources)
    failed = {f.name: f.message for f in evaluate(as_policy_input(resources)) if not f.passed}
    assert set(failed) == {policy}
    assert failed[policy]  # says which resource and why


def test_prod_rules_do_not_apply_to_dev(default_service: Rendered) -> None:
    resources = copy.deepcopy(default_service.previews["prod"]["resources"])
    for r in resources:
        if "tags" in r["inputs"]:
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
    assert [p.name for p in pack["policies"]] == [p.name for p in POLICIES]

    resources = copy.deepcopy(default_service.previews["prod"]["resources"])
    alb_keeps_invalid_headers(resources)
    args = type("Args", (), {"resources": [FakePolicyResource(r) for r in resources]})()
    violations: dict[str, list[str]] = {}
    for policy in pack["policies"]:
        policy.validate(
            args,
            lambda message, urn, name=policy.name: violations.setdefault(name, []).append(message),
        )
    assert list(violations) == ["alb-drops-invalid-headers"]
