"""Checks over the bootstrap and every service stack it serves, previewed together.

A deploy role is right only against the stack it deploys, and two stacks in one account are
safe only if nothing of one carries the other's name. The bootstrap preview runs each stack
of `environments` under the same mocks and hands all of it here; the policy pack, which sees
one stack at a time, cannot run these.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import permutations
from typing import Any

from .bootstrap import (
    BUCKET,
    MANAGED_POLICY,
    ROLE,
    ROLE_POLICY,
    STATE_PURPOSE,
    _statements,
    _strings,
    _tagged,
)
from .deploy_actions import (
    ROLE_PIPELINE_USES,
    Need,
    is_known,
    needs,
    read_wildcards,
)
from .model import Finding, Resource, of_types
from .names import PREFIX_SUFFIX, limits

SERVICE_STACK_TAG = "ServiceStack"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
RECORD = "aws:route53/record:Record"
RECORD_NAMES_KEY = "route53:ChangeResourceRecordSetsNormalizedRecordNames"
# What the deploy roles of one account share on purpose: the release repository, the state
# backend, AWS's service-linked roles and managed policies, and reading the hosted zone.
SHARED_ON_PURPOSE = (
    "ReleaseImages",
    "StateBucket",
    "StateObjects",
    "StateKey",
    "ServiceLinkedRoles",
    "ManagedPolicyReads",
)
RECORD_CHANGES = "route53:ChangeResourceRecordSets"
ACCOUNT = "123456789012"
AUTONAME = "abc1234"


@dataclass(frozen=True)
class StackPlan:
    """One service stack as previewed: its resources and the data sources it read."""

    stack: str
    region: str
    resources: list[Resource]
    invokes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class CrossStackPolicy:
    name: str
    description: str
    check: Callable[[list[Resource], Mapping[str, StackPlan]], list[str]]


def _role(bootstrap: list[Resource], stack: str) -> Resource | None:
    return next(
        (
            r
            for r in of_types(bootstrap, ROLE)
            if (r.props.get("tags") or {}).get(SERVICE_STACK_TAG) == stack
        ),
        None,
    )


def _granted(bootstrap: list[Resource], role: Resource) -> list[tuple[str, Mapping[str, Any]]]:
    """(policy name, Allow statement) of every policy attached to the role or inline in it."""
    name = role.props.get("name", role.name)
    attached = [
        str(a.props.get("policyArn"))
        for a in of_types(bootstrap, ATTACHMENT)
        if a.props.get("role") in (name, f"{role.name}-id")
    ]
    policies = [
        p
        for p in of_types(bootstrap, MANAGED_POLICY)
        if any(arn.endswith(f":{p.name}") or arn == p.props.get("arn") for arn in attached)
    ]
    policies += [
        p for p in of_types(bootstrap, ROLE_POLICY) if p.props.get("role") in (name, role.name)
    ]
    return [
        (str(p.props.get("name", p.name)), s)
        for p in policies
        for s in _statements(p.props.get("policy"))
        if s.get("Effect") == "Allow"
    ]


def _matches(action: str, patterns: Iterable[str]) -> bool:
    """IAM action names ignore case; `*` and `?` are wildcards."""
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


def _aws(resources: Iterable[Resource]) -> list[Resource]:
    return [r for r in resources if not r.type.startswith(("pulumi:", "random:", "tenfold:"))]


def _needs(bootstrap: list[Resource], plan: StackPlan) -> dict[str, list[Need]]:
    uses = [*ROLE_PIPELINE_USES, "release image push"]
    if any(_tagged(b, STATE_PURPOSE) for b in of_types(bootstrap, BUCKET)):
        uses.append("Pulumi state backend")
    return needs([(r.type, r.name) for r in _aws(plan.resources)], plan.invokes, uses)


def _why(found: list[Need]) -> str:
    """The first need of each kind (a resource type, a data source), then how many more."""
    kinds: dict[str, Need] = {}
    for need in found:
        kinds.setdefault(need.needed_by.split(" ")[0], need)
    shown = [need.explain() for need in list(kinds.values())[:4]]
    more = len(found) - len(shown)
    return " and ".join(shown) + (f", and {more} more," if more else "")


def deploy_role_covers_stack(
    bootstrap: list[Resource], stacks: Mapping[str, StackPlan]
) -> list[str]:
    """Each stack's deploy role grants every action its `pulumi up` needs, and nothing more.

    Needed: what CloudFormation's resource provider schemas list for each resource type the
    previewed stack creates (handlers' permissions), the data sources it reads, and their
    dependent actions in the Service Authorization Reference (policies/deploy_actions.json);
    plus the pipeline's own calls. An action missing fails `pulumi up` with AccessDenied; an
    action granted that nothing needs breaks least privilege.
    https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege
    """
    problems = []
    for stack, plan in stacks.items():
        unknown = sorted(
            {r.type for r in _aws(plan.resources) if not is_known(r.type)}
            | {token for token in plan.invokes if not is_known(token)}
        )
        problems += [
            f"stack {stack}: {key} is not in policies/deploy_actions.json, so no deploy role "
            "knows what it needs: map it to its CloudFormation type (PULUMI_TO_CLOUDFORMATION) "
            "or state its actions, then run scripts/deploy-actions"
            for key in unknown
        ]
        role = _role(bootstrap, stack)
        if role is None:
            problems.append(f"stack {stack}: no deploy role tagged {SERVICE_STACK_TAG}={stack}")
            continue
        role_name = role.props.get("name", role.name)
        granted = [a for _, s in _granted(bootstrap, role) for a in _strings(s.get("Action"))]
        needed = _needs(bootstrap, plan)
        problems += [
            f"deploy role {role_name} lacks {action}, which {_why(found)} needs "
            f"(`pulumi up` of {stack} fails with AccessDenied)"
            for action, found in sorted(needed.items())
            if not _matches(action, granted)
        ]
        wildcards = set(read_wildcards({a.split(":", 1)[0] for a in needed}))
        extra = sorted(
            {
                g
                for g in granted
                if (("*" in g or "?" in g) and g not in wildcards)
                or (not ("*" in g or "?" in g) and g.lower() not in {a.lower() for a in needed})
            }
        )
        if extra:
            problems.append(
                f"deploy role {role_name} grants {len(extra)} action(s) that nothing of stack "
                f"{stack} needs, against least privilege: {', '.join(extra)}"
            )
    return problems


def physical_names(plan: StackPlan) -> dict[tuple[str, str], Resource]:
    """(type, the name AWS sees) of every resource with an explicit physical name."""
    table = limits()
    found = {}
    for r in plan.resources:
        prop = table.get(r.type, (None,))[0]
        value = r.props.get(prop) if prop else None
        if isinstance(value, str) and value:
            found[(r.type, value)] = r
    return found


def _arns(plan: StackPlan) -> list[tuple[str, str]]:
    """(what, ARN) of everything a deploy role reaches by name: the stack's roles, buckets,
    secrets, log groups, topics, repository, as AWS will name them."""
    region = plan.region
    found = []
    for r in plan.resources:
        name, prefix = r.props.get("name"), r.props.get("namePrefix")
        auto = name if isinstance(name, str) else f"{prefix or r.name + '-'}{AUTONAME}"
        if r.type == "aws:iam/role:Role":
            found.append(
                (f"role {auto}", f"arn:aws:iam::{ACCOUNT}:role{r.props.get('path') or '/'}{auto}")
            )
        elif r.type == "aws:s3/bucket:Bucket":
            bucket = (
                r.props.get("bucket")
                or f"{r.props.get('bucketPrefix') or r.name}{'x' * PREFIX_SUFFIX}"
            )
            found += [
                (f"bucket {bucket}", f"arn:aws:s3:::{bucket}"),
                (f"bucket {bucket}", f"arn:aws:s3:::{bucket}/key"),
            ]
        elif r.type == "aws:secretsmanager/secret:Secret":
            found.append(
                (
                    f"secret {auto}",
                    f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{auto}-AbCdEf",
                )
            )
        elif r.type == "aws:cloudwatch/logGroup:LogGroup":
            found.append((f"log group {auto}", f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{auto}"))
        elif r.type == "aws:sns/topic:Topic":
            found.append((f"topic {auto}", f"arn:aws:sns:{region}:{ACCOUNT}:{auto}"))
        elif r.type == "aws:ecr/repository:Repository":
            found.append(
                (f"repository {auto}", f"arn:aws:ecr:{region}:{ACCOUNT}:repository/{auto}")
            )
    return found


def _records(plan: StackPlan) -> list[str]:
    return [
        str(r.props.get("name")).lower().rstrip(".")
        for r in of_types(plan.resources, RECORD)
        if isinstance(r.props.get("name"), str)
    ]


def _changes_record(statement: Mapping[str, Any], record: str) -> bool:
    condition = statement.get("Condition") or {}
    allowed = _strings((condition.get("ForAllValues:StringLike") or {}).get(RECORD_NAMES_KEY))
    denied = _strings((condition.get("ForAllValues:StringNotLike") or {}).get(RECORD_NAMES_KEY))
    if not condition:
        return True
    return _matches(record, allowed) and not _matches(record, denied)


def physical_names_unique_across_stacks(
    bootstrap: list[Resource], stacks: Mapping[str, StackPlan]
) -> list[str]:
    """No two stacks share a physical name, and no stack's deploy role reaches another's.

    Names are unique per account and Region: the second `pulumi up` fails with AlreadyExists
    (ELB "DuplicateLoadBalancerName", RDS "DBInstanceAlreadyExists", ...), or worse, two stacks
    edit one resource. A deploy role scoped to a prefix another stack's names also start with
    (or allowed to change another stack's DNS records) lets the dev pipeline change prod.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
    """
    problems = []
    for (one, a), (other, b) in permutations(stacks.items(), 2):
        if one < other:
            shared = sorted(set(physical_names(a)) & set(physical_names(b)))
            problems += [
                f"stacks {one} and {other} both name a {type_} {name!r}: in one account the "
                "second `pulumi up` fails with AlreadyExists (derive names from the stack's "
                "prefix: tenfold_infra.config.resource_prefix keeps a hash of <project>-<stack>)"
                for type_, name in shared
            ]
        role = _role(bootstrap, one)
        if role is None:
            continue
        role_name = role.props.get("name", role.name)
        for policy, statement in _granted(bootstrap, role):
            sid = statement.get("Sid", "statement")
            targets = _strings(statement.get("Resource"))
            if sid in SHARED_ON_PURPOSE or "*" in targets:
                continue
            if any(t.split(":")[2:3] == ["route53"] for t in targets):
                # The zone is shared on purpose; the records in it are each stack's own.
                changes = _matches(RECORD_CHANGES, _strings(statement.get("Action")))
                reached = [
                    f"DNS record {record}"
                    for record in _records(b)
                    if changes and _changes_record(statement, record)
                ]
            else:
                reached = [
                    what
                    for what, arn in _arns(b)
                    if any(fnmatch.fnmatchcase(arn, t) for t in targets)
                ]
            if reached:
                problems.append(
                    f"the deploy role of {one} ({role_name}, {policy} {sid}) reaches stack "
                    f"{other}'s {', '.join(sorted(set(reached)))}, so its pipeline could "
                    f"change {other} (scope each role to its own stack's names)"
                )
    return problems


CROSS_STACK: tuple[CrossStackPolicy, ...] = (
    CrossStackPolicy(
        "deploy-role-covers-stack",
        "Each stack's deploy role grants what its pulumi up needs (from AWS's data), and no more",
        deploy_role_covers_stack,
    ),
    CrossStackPolicy(
        "physical-names-unique-across-stacks",
        "No physical name, and no deploy role's reach, is shared between two stacks",
        physical_names_unique_across_stacks,
    ),
)


def evaluate_stacks(bootstrap: list[Resource], stacks: Mapping[str, StackPlan]) -> list[Finding]:
    findings = []
    for policy in CROSS_STACK:
        problems = policy.check(bootstrap, stacks)
        findings.append(
            Finding(policy.name, not problems, "; ".join(problems) or policy.description)
        )
    return findings
