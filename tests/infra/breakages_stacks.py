"""Breakages for the cross-stack policies (tenfold_infra/policies/stacks.py).

Each edits the bootstrap preview (`account`) of an answer set, or one of its service stacks'
previews, the way a careless change to the roles or the names would, and says which phrases
the failing policy's message must hold: the action, and what needs it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from breakage import Resources, add

POLICY = "aws:iam/policy:Policy"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"


@dataclass(frozen=True)
class StackBreakage:
    """`apply(bootstrap, {stack: resources})` breaks them; only `policy` may then fail, with
    a message holding every phrase of `expect`."""

    policy: str
    apply: Callable[[Resources, dict[str, Resources]], None]
    expect: tuple[str, ...]
    answer_set: str = "defaults"


def edit_statements(bootstrap: Resources, edit: Callable[[dict[str, Any]], None]) -> None:
    """Apply `edit` to every statement of every deploy policy."""
    for r in bootstrap:
        if r["type"] == POLICY:
            document = json.loads(r["inputs"]["policy"])
            for statement in document["Statement"]:
                edit(statement)
            r["inputs"]["policy"] = json.dumps(document)


def without(action: str) -> Callable[[Resources, dict[str, Resources]], None]:
    def remove(bootstrap: Resources, _: dict[str, Resources]) -> None:
        def drop(statement: dict[str, Any]) -> None:
            statement["Action"] = [a for a in statement["Action"] if a != action]

        edit_statements(bootstrap, drop)

    remove.__name__ = f"without_{action.replace(':', '_')}"
    return remove


def granting(extra: str, sid: str = "Rds") -> Callable[[Resources, dict[str, Resources]], None]:
    def grant(bootstrap: Resources, _: dict[str, Resources]) -> None:
        edit_statements(
            bootstrap, lambda s: s["Action"].append(extra) if s.get("Sid") == sid else None
        )

    grant.__name__ = f"granting_{extra.replace(':', '_').replace('*', 'any')}"
    return grant


def dev_creates_a_function(_: Resources, stacks: dict[str, Resources]) -> None:
    """A new kind of resource, unknown to deploy_actions.json."""
    add(stacks["dev"], "aws:lambda/function:Function", "demo-service-dev-resize")


def prod_reuses_dev_load_balancer_name(_: Resources, stacks: dict[str, Resources]) -> None:
    """The original bug: a 28-character cut dropped the stack from both names."""
    (dev,) = [r for r in stacks["dev"] if r["type"] == LOAD_BALANCER]
    (prod,) = [r for r in stacks["prod"] if r["type"] == LOAD_BALANCER]
    prod["inputs"]["name"] = dev["inputs"]["name"]


def dev_role_scoped_to_the_project(bootstrap: Resources, _: dict[str, Resources]) -> None:
    """The original bug's other face: both roles scoped to one shared prefix."""

    def widen(statement: dict[str, Any]) -> None:
        statement["Resource"] = [
            r.replace(":role/demo-service-dev-*", ":role/demo-service-*")
            for r in statement["Resource"]
        ]

    edit_statements(bootstrap, widen)


def record_changes_in_the_whole_zone(bootstrap: Resources, _: dict[str, Resources]) -> None:
    """dev and prod records share one zone: without its condition, dev may rewrite prod's."""
    edit_statements(
        bootstrap,
        lambda s: s.pop("Condition", None) if s.get("Sid") == "StackRecordChanges" else None,
    )


STACK_BREAKAGES = [
    StackBreakage(
        "deploy-role-covers-stack",
        without("ec2:GetManagedPrefixListEntries"),
        ("lacks ec2:GetManagedPrefixListEntries", "aws:ec2/getManagedPrefixList"),
    ),
    StackBreakage(
        "deploy-role-covers-stack",
        without("route53:AssociateVPCWithHostedZone"),
        (
            "lacks route53:AssociateVPCWithHostedZone",
            "aws:ec2/vpcEndpoint:VpcEndpoint",
            "dependent action of ec2:CreateVpcEndpoint",
        ),
        "lean-redis-no-cdn",
    ),
    StackBreakage(
        "deploy-role-covers-stack",
        without("route53:AssociateVPCWithHostedZone"),
        ("lacks route53:AssociateVPCWithHostedZone", "aws:mq/broker:Broker"),
        "domain-3-replicas",
    ),
    StackBreakage(
        "deploy-role-covers-stack",
        without("ec2:ModifyNetworkInterfaceAttribute"),
        ("lacks ec2:ModifyNetworkInterfaceAttribute", "aws:mq/broker:Broker"),
    ),
    StackBreakage(
        "deploy-role-covers-stack",
        granting("rds:CreateDBCluster"),
        ("nothing of stack dev needs", "rds:CreateDBCluster"),
    ),
    StackBreakage(
        "deploy-role-covers-stack",
        granting("rds:Create*"),
        ("nothing of stack prod needs", "rds:Create*"),
    ),
    StackBreakage(
        "deploy-role-covers-stack",
        dev_creates_a_function,
        ("aws:lambda/function:Function is not in policies/deploy_actions.json",),
    ),
    StackBreakage(
        "physical-names-unique-across-stacks",
        prod_reuses_dev_load_balancer_name,
        ("both name a aws:lb/loadBalancer:LoadBalancer 'demo-service-dev'", "AlreadyExists"),
    ),
    StackBreakage(
        "physical-names-unique-across-stacks",
        dev_role_scoped_to_the_project,
        ("the deploy role of dev", "reaches stack prod's role demo-service-prod-"),
    ),
    StackBreakage(
        "physical-names-unique-across-stacks",
        record_changes_in_the_whole_zone,
        ("the deploy role of dev", "DNS record api.example.com", "could change prod"),
        "domain-3-replicas",
    ),
]
