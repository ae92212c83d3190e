"""Breakages for the bootstrap policies (tenfold_infra/policies/bootstrap.py).

They break the bootstrap preview (infra/bootstrap/) of an answer set: the sample stack
`account`, or `state` where the state backend is on (see rendered_bootstrap.py).
"""

from __future__ import annotations

import json
from typing import Any

from breakage import Breakage, Resources, first

ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/policy:Policy"


def _edit_json(inputs: dict[str, Any], key: str, edit: Any) -> None:
    document = json.loads(inputs[key])
    edit(document)
    inputs[key] = json.dumps(document)


def _statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in document["Statement"] if s.get("Sid") == sid)


def _policy_with(rs: Resources, sid: str) -> dict[str, Any]:
    """The first deploy policy holding statement `sid` (parts split as IAM's quota needs)."""
    return next(
        r["inputs"]
        for r in rs
        if r["type"] == POLICY
        and any(s.get("Sid") == sid for s in json.loads(r["inputs"]["policy"])["Statement"])
    )


def _stack_policy(rs: Resources) -> dict[str, Any]:
    return next(r["inputs"] for r in rs if r["type"] == POLICY and r["name"].endswith("-stack"))


def any_branch_may_deploy(rs: Resources) -> None:
    """The copy-pasted `repo:<owner>/<repo>:*`: every branch and pull request gets the role."""

    def widen(document: dict[str, Any]) -> None:
        condition = document["Statement"][0]["Condition"]
        subject = condition["StringEquals"].pop("token.actions.githubusercontent.com:sub")
        condition["StringLike"] = {
            "token.actions.githubusercontent.com:sub": subject.split(":environment:")[0] + ":*"
        }

    _edit_json(first(rs, ROLE), "assumeRolePolicy", widen)


def whole_service_allowed(rs: Resources) -> None:
    _edit_json(
        _policy_with(rs, "Ecs"), "policy", lambda d: _statement(d, "Ecs")["Action"].append("ecs:*")
    )


def pass_role_to_any_service(rs: Resources) -> None:
    _edit_json(
        _policy_with(rs, "PassStackRoles"),
        "policy",
        lambda d: _statement(d, "PassStackRoles").pop("Condition"),
    )


def twelve_hour_sessions(rs: Resources) -> None:
    first(rs, ROLE)["maxSessionDuration"] = 12 * 3600


def oversized_policy(rs: Resources) -> None:
    """One statement per bucket instead of a prefix: IAM refuses the policy past 6,144 characters."""
    buckets = [f"arn:aws:s3:::demo-service-dev-bucket-{i:03d}/*" for i in range(200)]
    _edit_json(
        _stack_policy(rs),
        "policy",
        lambda d: d["Statement"].append(
            {"Sid": "Objects", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": buckets}
        ),
    )


def state_versioning_suspended(rs: Resources) -> None:
    first(rs, "aws:s3/bucketVersioning:BucketVersioning")["versioningConfiguration"]["status"] = (
        "Suspended"
    )


def state_bucket_allows_plain_http(rs: Resources) -> None:
    _edit_json(
        first(rs, "aws:s3/bucketPolicy:BucketPolicy"),
        "policy",
        lambda d: d["Statement"][0]["Condition"]["Bool"].update({"aws:SecureTransport": "true"}),
    )


def key_never_rotates(rs: Resources) -> None:
    first(rs, "aws:kms/key:Key")["enableKeyRotation"] = False


BREAKAGES: list[Breakage] = [
    Breakage(
        "github-oidc-trust-pinned", any_branch_may_deploy, stack="account", project="bootstrap"
    ),
    Breakage(
        "deploy-role-no-wildcard-actions",
        whole_service_allowed,
        stack="account",
        project="bootstrap",
    ),
    Breakage(
        "deploy-role-iam-scoped", pass_role_to_any_service, stack="account", project="bootstrap"
    ),
    Breakage(
        "deploy-role-session-limit", twelve_hour_sessions, stack="account", project="bootstrap"
    ),
    Breakage("iam-policy-size", oversized_policy, stack="account", project="bootstrap"),
    Breakage(
        "state-bucket-encrypted-and-versioned",
        state_versioning_suspended,
        stack="state",
        project="bootstrap",
    ),
    Breakage(
        "state-bucket-private-and-tls-only",
        state_bucket_allows_plain_http,
        stack="state",
        project="bootstrap",
    ),
    Breakage("kms-key-rotation", key_never_rotates, stack="state", project="bootstrap"),
]
