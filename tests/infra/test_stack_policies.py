"""The cross-stack policies: each deploy role against what its stack's `pulumi up` needs, and
names no two stacks share, for every tested answer set and for slugs of 40 and 60 characters."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from breakages_stacks import STACK_BREAKAGES, StackBreakage
from rendered_bootstrap import bootstrap
from rendered_services import ANSWER_SETS, Rendered, rendered, run_preview
from tenfold_infra.config import PREFIX_LIMIT, resource_prefix
from tenfold_infra.deploy_role import DeployScope, deploy_permissions, stack_actions
from tenfold_infra.policies import CROSS_STACK, Resource, StackPlan, evaluate_stacks
from tenfold_infra.policies.deploy_actions import is_known
from tenfold_infra.policies.names import name_length_limits
from tenfold_infra.policies.stacks import physical_names

Resources = list[dict[str, Any]]


def as_resources(resources: Resources) -> list[Resource]:
    return [Resource(r["type"], r["name"], r["inputs"]) for r in resources]


def plan(service: Rendered, stack: str, resources: Resources | None = None) -> StackPlan:
    preview = service.previews[stack]
    return StackPlan(
        stack,
        service.answers["aws_region"],
        as_resources(preview["resources"] if resources is None else resources),
        tuple(preview["invokes"]),
    )


def test_every_cross_stack_policy_has_a_breakage() -> None:
    assert {b.policy for b in STACK_BREAKAGES} == {p.name for p in CROSS_STACK}


@pytest.mark.parametrize("answers", list(ANSWER_SETS))
def test_the_bootstrap_preview_runs_them_over_every_stack(answers: str) -> None:
    policies = {p["name"]: p for p in bootstrap(answers).previews["account"]["policies"]}
    for policy in CROSS_STACK:
        assert policies[policy.name]["passed"], policies[policy.name]["message"]


@pytest.mark.parametrize(
    "breakage", STACK_BREAKAGES, ids=[f"{b.answer_set}-{b.apply.__name__}" for b in STACK_BREAKAGES]
)
def test_cross_stack_policy_catches_its_breakage(breakage: StackBreakage) -> None:
    service = rendered(breakage.answer_set)
    roles = copy.deepcopy(bootstrap(breakage.answer_set).previews["account"]["resources"])
    stacks = {s: copy.deepcopy(service.previews[s]["resources"]) for s in ("dev", "prod")}

    def run() -> dict[str, str]:
        plans = {s: plan(service, s, resources) for s, resources in stacks.items()}
        return {
            f.name: f.message for f in evaluate_stacks(as_resources(roles), plans) if not f.passed
        }

    assert run() == {}
    breakage.apply(roles, stacks)
    failed = run()
    assert set(failed) == {breakage.policy}
    for phrase in breakage.expect:
        assert phrase in failed[breakage.policy], (phrase, failed[breakage.policy][:2000])


def test_each_stack_gets_only_what_it_creates() -> None:
    """Least privilege per stack: no Amazon MQ without the broker, no CloudFront without the
    CDN, Route 53 record changes only with a domain."""

    def granted(answers: str, stack: str) -> set[str]:
        return {
            action
            for r in bootstrap(answers).resources("account", "aws:iam/policy:Policy")
            if r["inputs"]["tags"]["ServiceStack"] == stack
            for s in json.loads(r["inputs"]["policy"])["Statement"]
            for action in s["Action"]
        }

    lean, full = granted("lean-redis-no-cdn", "prod"), granted("domain-3-replicas", "prod")
    assert not {a for a in lean if a.startswith(("mq:", "cloudfront:", "acm:"))}
    assert "route53:ChangeResourceRecordSets" not in lean
    assert {"mq:CreateBroker", "cloudfront:CreateDistribution", "acm:RequestCertificate"} <= full
    assert "route53:ChangeResourceRecordSets" in full
    # The two blockers the derived data brought in, in every role.
    assert {"ec2:GetManagedPrefixListEntries", "route53:AssociateVPCWithHostedZone"} <= full
    assert "route53:AssociateVPCWithHostedZone" in lean


def test_dev_may_change_only_its_own_records() -> None:
    b = bootstrap("domain-3-replicas")
    conditions = {
        r["inputs"]["tags"]["ServiceStack"]: s["Condition"]
        for r in b.resources("account", "aws:iam/policy:Policy")
        for s in json.loads(r["inputs"]["policy"])["Statement"]
        if s["Sid"] == "StackRecordChanges"
    }
    key = "route53:ChangeResourceRecordSetsNormalizedRecordNames"
    assert conditions["dev"] == {
        "ForAllValues:StringLike": {
            key: [
                "dev.api.example.com",
                "_*.dev.api.example.com",
                "origin.dev.api.example.com",
                "_*.origin.dev.api.example.com",
            ]
        }
    }
    # prod's names cover dev's (dev.api.example.com is under api.example.com): excluded.
    assert conditions["prod"]["ForAllValues:StringNotLike"] == {
        key: ["dev.api.example.com", "*.dev.api.example.com"]
    }


@pytest.mark.parametrize("length", [40, 60])
def test_long_slugs_keep_every_name_and_scope_apart(length: int, tmp_path: Path) -> None:
    """A slug of 40 characters (copier's longest) and one of 60 (a hand-written Pulumi.yaml):
    every name fits AWS's limits, dev and prod share none, and neither role reaches the other."""
    project = ("order-fulfilment-and-settlement-platform-" * 2)[:length].rstrip("-")
    project = project + "x" * (length - len(project))
    infra = with_project(rendered("long-slug-redis-3-replicas").infra, project, tmp_path)
    plans = {}
    roles: list[Resource] = []
    for stack in ("dev", "prod"):
        preview = offline_preview(infra, stack)
        failed = [p for p in preview["policies"] if not p["passed"]]
        assert not failed, failed
        plans[stack] = StackPlan(
            stack, "eu-west-1", as_resources(preview["resources"]), tuple(preview["invokes"])
        )
        assert not name_length_limits(plans[stack].resources)
        roles += deploy_role(project, stack, plans[stack])
    prefixes = {s: resource_prefix(project, s) for s in plans}
    assert prefixes["dev"] != prefixes["prod"]
    assert all(len(p) <= PREFIX_LIMIT for p in prefixes.values())
    # Readable: the head of the project, then a hash of the whole <project>-<stack>.
    assert all(p.startswith(project[:15]) for p in prefixes.values())
    assert not set(physical_names(plans["dev"])) & set(physical_names(plans["prod"]))
    findings = {f.name: f for f in evaluate_stacks(roles, plans)}
    assert all(f.passed for f in findings.values()), {n: f.message for n, f in findings.items()}
    # The cut before this change kept 28 characters and lost the stack: both stacks collided.
    assert f"{project}-dev"[:28] == f"{project}-prod"[:28]


def test_short_names_are_kept_exactly() -> None:
    """Deployed stacks keep every physical name when `<project>-<stack>` fits 28 characters."""
    for project, stack in [("demo-service", "prod"), ("orders", "staging"), ("a" * 23, "prod")]:
        assert resource_prefix(project, stack) == f"{project}-{stack}"
    assert resource_prefix("a" * 24, "prod") != f"{'a' * 24}-prod"[:28]


def with_project(infra: Path, project: str, tmp_path: Path) -> Path:
    """A copy of a rendered infra/ under another project name (Pulumi.yaml and its keys)."""
    copy_ = tmp_path / "service"
    shutil.copytree(infra.parent, copy_, symlinks=True, ignore=shutil.ignore_patterns(".venv"))
    target = copy_ / "infra"
    old = yaml.safe_load((target / "Pulumi.yaml").read_text())["name"]
    (target / "Pulumi.yaml").write_text(
        (target / "Pulumi.yaml").read_text().replace(f"name: {old}", f"name: {project}", 1)
    )
    for stack in ("dev", "prod"):
        path = target / f"Pulumi.{stack}.yaml"
        path.write_text(path.read_text().replace(f"{old}:", f"{project}:"))
    return target


def offline_preview(infra: Path, stack: str) -> dict[str, Any]:
    done = run_preview(infra, stack, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def deploy_role(project: str, stack: str, plan_: StackPlan) -> list[Resource]:
    """The deploy role the bootstrap would create for the stack, as resources."""
    footprint = {r.type for r in plan_.resources} | set(plan_.invokes)
    scope = DeployScope(
        region=plan_.region,
        name_prefix=resource_prefix(project, stack),
        actions=stack_actions(k for k in footprint if is_known(k)),
        release_repository=f"{project}-releases",
    )
    role = Resource(
        "aws:iam/role:Role",
        f"deploy-{stack}",
        {"name": f"deploy-{stack}", "tags": {"ServiceStack": stack}},
    )
    policies = [
        Resource("aws:iam/policy:Policy", f"deploy-{stack}-{part}", {"policy": json.dumps(doc)})
        for part, doc in deploy_permissions(scope).items()
    ]
    attachments = [
        Resource(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            p.name,
            {"role": f"deploy-{stack}", "policyArn": f"arn:aws:iam::123456789012:{p.name}"},
        )
        for p in policies
    ]
    return [role, *policies, *attachments]
