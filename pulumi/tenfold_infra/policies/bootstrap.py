"""The account bootstrap: who may assume the deploy roles, what they may do, where state lives.

Each check looks only at what it concerns: roles trusting a web identity (the GitHub OIDC
provider), IAM policies tagged `Purpose: github-deploy`, buckets and keys tagged
`Purpose: pulumi-state`, and symmetric KMS keys; a service stack has none of these, so they
pass there untouched.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from .model import Policy, Resource, of_types

ROLE = "aws:iam/role:Role"
MANAGED_POLICY = "aws:iam/policy:Policy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
KMS_KEY = "aws:kms/key:Key"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_SSE = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
BUCKET_LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"

GITHUB_ISSUER = "token.actions.githubusercontent.com"
GITHUB_AUDIENCE = "sts.amazonaws.com"
# repo:<owner>/<repo>:environment:<environment>, nothing that IAM could read as a wildcard.
PINNED_SUBJECT = re.compile(r"repo:[A-Za-z0-9-]+/[A-Za-z0-9._-]+:environment:[^:*?]+")
DEPLOY_PURPOSE = "github-deploy"
STATE_PURPOSE = "pulumi-state"
DEPLOY_ROLE_PATH = "/github-deploy/"
PASSABLE_TO = {"ecs-tasks.amazonaws.com", "monitoring.rds.amazonaws.com"}
# IAM's size quotas, counted without whitespace.
MANAGED_POLICY_CHARS = 6144
INLINE_POLICY_CHARS = 10240
# The session length IAM allows is 1 to 12 hours; a deploy needs 2 at most.
MAX_DEPLOY_SESSION_SECONDS = 2 * 3600

GITHUB_OIDC_DOC = (
    "https://docs.github.com/en/actions/how-tos/secure-your-work/security-harden-deployments/"
    "oidc-in-aws"
)
IAM_OIDC_ROLE_DOC = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html"
)
IAM_LEAST_PRIVILEGE_DOC = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"
)
IAM_PASSROLE_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html"
IAM_QUOTAS_DOC = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
IAM_ROLE_SESSION_DOC = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-settings.html"
)
S3_SECURITY_DOC = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html"
)
KMS_ROTATION_DOC = "https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html"


def _document(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, Mapping) else {}


def _statements(value: Any) -> Iterator[Mapping[str, Any]]:
    statements = _document(value).get("Statement") or []
    for statement in [statements] if isinstance(statements, Mapping) else statements:
        if isinstance(statement, Mapping):
            yield statement


def _strings(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)]


def _tagged(r: Resource, purpose: str) -> bool:
    return (r.props.get("tags") or {}).get("Purpose") == purpose


def _web_identity_statements(r: Resource) -> list[Mapping[str, Any]]:
    return [
        s
        for s in _statements(r.props.get("assumeRolePolicy"))
        if s.get("Effect") == "Allow"
        and "sts:AssumeRoleWithWebIdentity" in _strings(s.get("Action"))
    ]


def github_oidc_trust_pinned(resources: list[Resource]) -> list[str]:
    """A role trusting GitHub's OIDC provider without an exact `sub` lets every repository on
    GitHub assume it: StringEquals on `token.actions.githubusercontent.com:sub` (one
    `repo:<owner>/<repo>:environment:<environment>`) and `:aud` (sts.amazonaws.com), as GitHub's
    "Configuring OpenID Connect in Amazon Web Services" and IAM's "Create a role for OpenID
    Connect federation" require."""
    problems: list[str] = []
    for r in of_types(resources, ROLE):
        for statement in _web_identity_statements(r):
            condition = statement.get("Condition") or {}
            equals = condition.get("StringEquals") or {}
            subjects = _strings(equals.get(f"{GITHUB_ISSUER}:sub"))
            audiences = _strings(equals.get(f"{GITHUB_ISSUER}:aud"))
            loose = [op for op in condition if op != "StringEquals"]
            if len(subjects) != 1 or not PINNED_SUBJECT.fullmatch(subjects[0]):
                problems.append(
                    f"{r.name}: the trust policy must pin StringEquals "
                    f"{GITHUB_ISSUER}:sub to one repo:<owner>/<repo>:environment:<environment>, "
                    f"got {subjects or 'none'} (see {GITHUB_OIDC_DOC})"
                )
            if audiences != [GITHUB_AUDIENCE]:
                problems.append(
                    f"{r.name}: the trust policy must require StringEquals {GITHUB_ISSUER}:aud "
                    f"= {GITHUB_AUDIENCE}, got {audiences or 'none'} (see {IAM_OIDC_ROLE_DOC})"
                )
            if loose:
                problems.append(
                    f"{r.name}: the trust policy must not widen the match with {loose}: "
                    "StringEquals only"
                )
    for r in of_types(resources, OIDC_PROVIDER):
        if GITHUB_ISSUER in str(r.props.get("url", "")) and list(
            r.props.get("clientIdLists") or []
        ) != [GITHUB_AUDIENCE]:
            problems.append(
                f"{r.name}: the GitHub OIDC provider's clientIdLists must be [{GITHUB_AUDIENCE}] "
                f"(the audience aws-actions/configure-aws-credentials requests; see {GITHUB_OIDC_DOC})"
            )
    return problems


def _deploy_policies(resources: list[Resource]) -> list[Resource]:
    return [
        r
        for r in of_types(resources, MANAGED_POLICY, ROLE_POLICY)
        if _tagged(r, DEPLOY_PURPOSE) or str(r.props.get("path", "")) == DEPLOY_ROLE_PATH
    ]


def _allowed_actions(r: Resource) -> Iterator[tuple[Mapping[str, Any], str]]:
    for statement in _statements(r.props.get("policy")):
        if statement.get("Effect") == "Allow":
            for action in _strings(statement.get("Action")):
                yield statement, action


def deploy_role_no_wildcard_actions(resources: list[Resource]) -> list[str]:
    """Least privilege (IAM best practices): a deploy policy names its actions, at most with a
    verb wildcard (`rds:Create*`); never `*`, `<service>:*`, NotAction, or any wildcard on IAM."""
    problems: list[str] = []
    for r in _deploy_policies(resources):
        for statement in _statements(r.props.get("policy")):
            if statement.get("Effect") == "Allow" and "NotAction" in statement:
                problems.append(f"{r.name}: NotAction allows everything else; list the actions")
        for _, action in _allowed_actions(r):
            service, _, name = action.partition(":")
            if action == "*" or name in ("", "*") or (service.lower() == "iam" and "*" in name):
                problems.append(
                    f"{r.name}: action {action!r} is a wildcard; name the actions pulumi up "
                    f"needs (see {IAM_LEAST_PRIVILEGE_DOC})"
                )
    return problems


def _iam_write(action: str) -> bool:
    service, _, name = action.partition(":")
    return service.lower() == "iam" and not name.startswith(("Get", "List"))


def deploy_role_iam_scoped(resources: list[Resource]) -> list[str]:
    """IAM writes of a deploy policy reach only the stack's roles: never `*`, never the deploy
    roles themselves (their path), and iam:PassRole only with an `iam:PassedToService`
    condition naming ECS tasks or RDS monitoring (IAM's "Grant a user permissions to pass a
    role to an AWS service")."""
    problems: list[str] = []
    deploy_roles = [
        f"role{r.props.get('path') or '/'}{r.props.get('name', r.name)}"
        for r in of_types(resources, ROLE)
        if _web_identity_statements(r)
    ]
    for r in _deploy_policies(resources):
        for statement in _statements(r.props.get("policy")):
            if statement.get("Effect") != "Allow":
                continue
            actions = _strings(statement.get("Action"))
            targets = _strings(statement.get("Resource"))
            if not any(_iam_write(a) for a in actions):
                continue
            where = f"{r.name} ({statement.get('Sid', 'statement')})"
            if any(t == "*" or t.endswith(":role/*") for t in targets):
                problems.append(
                    f"{where}: IAM writes on {targets}; scope them to role/<project>-<stack>-*"
                )
            for role in deploy_roles:
                if any(fnmatch.fnmatchcase(role, t.split(":", 5)[-1]) for t in targets):
                    problems.append(
                        f"{where}: IAM writes reach the deploy role {role}, which could then "
                        "grant itself anything; keep deploy roles under their own path"
                    )
            if "iam:PassRole" in actions:
                passed = set(
                    _strings(
                        ((statement.get("Condition") or {}).get("StringEquals") or {}).get(
                            "iam:PassedToService"
                        )
                    )
                )
                if not passed or passed - PASSABLE_TO:
                    problems.append(
                        f"{where}: iam:PassRole needs a StringEquals iam:PassedToService condition "
                        f"limited to {sorted(PASSABLE_TO)}, got {sorted(passed) or 'none'} "
                        f"(see {IAM_PASSROLE_DOC})"
                    )
    return problems


def _size(policy: Any) -> int:
    text = policy if isinstance(policy, str) else json.dumps(policy)
    return len("".join(text.split()))


def iam_policy_size(resources: list[Resource]) -> list[str]:
    """IAM refuses a managed policy over 6,144 characters and a role's inline policies over
    10,240 (LimitExceeded: "Cannot exceed quota for PolicySize"; IAM and AWS STS quotas)."""
    problems = [
        f"{r.name}: the policy has {_size(r.props.get('policy'))} characters, IAM allows "
        f"{MANAGED_POLICY_CHARS} in a managed policy; split it (see {IAM_QUOTAS_DOC})"
        for r in of_types(resources, MANAGED_POLICY)
        if _size(r.props.get("policy", "")) > MANAGED_POLICY_CHARS
    ]
    problems += [
        f"{r.name}: the inline policy has {_size(r.props.get('policy'))} characters, IAM allows "
        f"{INLINE_POLICY_CHARS} per role; use managed policies (see {IAM_QUOTAS_DOC})"
        for r in of_types(resources, ROLE_POLICY)
        if _size(r.props.get("policy", "")) > INLINE_POLICY_CHARS
    ]
    return problems


def deploy_role_session_limit(resources: list[Resource]) -> list[str]:
    """A deploy role's credentials expire: maxSessionDuration is set and at most 2 hours,
    enough for a first prod `pulumi up` (IAM allows 1 to 12 hours)."""
    problems: list[str] = []
    for r in of_types(resources, ROLE):
        if not _web_identity_statements(r):
            continue
        seconds = r.props.get("maxSessionDuration")
        if not isinstance(seconds, int) or not 3600 <= seconds <= MAX_DEPLOY_SESSION_SECONDS:
            problems.append(
                f"{r.name}: maxSessionDuration must be from 3600 to "
                f"{MAX_DEPLOY_SESSION_SECONDS} seconds, got {seconds!r} (see {IAM_ROLE_SESSION_DOC})"
            )
    return problems


def _state_buckets(resources: list[Resource]) -> list[Resource]:
    return [r for r in of_types(resources, BUCKET) if _tagged(r, STATE_PURPOSE)]


def _named(resources: list[Resource], type_: str, name: str) -> list[Resource]:
    """A state bucket's settings are resources of their own, named like the bucket."""
    return [r for r in of_types(resources, type_) if r.name == name]


def state_bucket_encrypted_and_versioned(resources: list[Resource]) -> list[str]:
    """The Pulumi state is the only record of what a stack owns: its bucket encrypts with a KMS
    key, keeps versions (a bad write can be rolled back) and expires old ones (S3 security
    best practices)."""
    problems: list[str] = []
    for bucket in _state_buckets(resources):
        name = bucket.name
        encrypted = [
            rule
            for sse in _named(resources, BUCKET_SSE, name)
            for rule in sse.props.get("rules") or []
            if (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")
            in ("aws:kms", "aws:kms:dsse")
            and (rule.get("applyServerSideEncryptionByDefault") or {}).get("kmsMasterKeyId")
        ]
        if not encrypted:
            problems.append(
                f"{name}: the state bucket needs a BucketServerSideEncryptionConfiguration with "
                f"sseAlgorithm aws:kms and its kmsMasterKeyId (see {S3_SECURITY_DOC})"
            )
        if not any(
            (v.props.get("versioningConfiguration") or {}).get("status") == "Enabled"
            for v in _named(resources, BUCKET_VERSIONING, name)
        ):
            problems.append(f"{name}: the state bucket needs BucketVersioning status Enabled")
        if not any(
            rule.get("status") == "Enabled" and rule.get("noncurrentVersionExpiration")
            for lifecycle in _named(resources, BUCKET_LIFECYCLE, name)
            for rule in lifecycle.props.get("rules") or []
        ):
            problems.append(
                f"{name}: the state bucket needs a lifecycle rule expiring noncurrent versions"
            )
    return problems


def _denies_plain_http(policy: Any) -> bool:
    return any(
        s.get("Effect") == "Deny"
        and str(((s.get("Condition") or {}).get("Bool") or {}).get("aws:SecureTransport")).lower()
        == "false"
        for s in _statements(policy)
    )


def state_bucket_private_and_tls_only(resources: list[Resource]) -> list[str]:
    """The state bucket blocks every form of public access and its policy denies requests
    without TLS (`aws:SecureTransport` false; S3 security best practices)."""
    problems: list[str] = []
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for bucket in _state_buckets(resources):
        name = bucket.name
        if not any(
            all(b.props.get(f) is True for f in flags)
            for b in _named(resources, BUCKET_PUBLIC_ACCESS_BLOCK, name)
        ):
            problems.append(
                f"{name}: the state bucket needs a BucketPublicAccessBlock with all four flags true"
            )
        if not any(
            _denies_plain_http(p.props.get("policy"))
            for p in _named(resources, BUCKET_POLICY, name)
        ):
            problems.append(
                f"{name}: the state bucket's policy must deny requests with aws:SecureTransport "
                f"false (see {S3_SECURITY_DOC})"
            )
    return problems


def kms_key_rotation(resources: list[Resource]) -> list[str]:
    """Symmetric customer managed keys rotate yearly (enableKeyRotation; KMS "Rotate AWS KMS
    keys"). AWS rotates symmetric encryption keys only, so other key specs are left alone."""
    return [
        f"{r.name}: enableKeyRotation must be true (see {KMS_ROTATION_DOC})"
        for r in of_types(resources, KMS_KEY)
        if r.props.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
        and r.props.get("keyUsage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT"
        and r.props.get("enableKeyRotation") is not True
    ]


BOOTSTRAP: tuple[Policy, ...] = (
    Policy(
        "github-oidc-trust-pinned",
        "Deploy roles trust one repository and GitHub environment, audience sts.amazonaws.com",
        github_oidc_trust_pinned,
    ),
    Policy(
        "deploy-role-no-wildcard-actions",
        "Deploy policies name their actions: no *, no <service>:*, no IAM wildcards",
        deploy_role_no_wildcard_actions,
    ),
    Policy(
        "deploy-role-iam-scoped",
        "Deploy policies edit only the stack's roles and pass them only to ECS tasks and RDS",
        deploy_role_iam_scoped,
    ),
    Policy(
        "deploy-role-session-limit",
        "Deploy role sessions last at most 2 hours",
        deploy_role_session_limit,
    ),
    Policy("iam-policy-size", "IAM policies fit IAM's size quotas", iam_policy_size),
    Policy(
        "state-bucket-encrypted-and-versioned",
        "The Pulumi state bucket is KMS-encrypted, versioned, and expires old versions",
        state_bucket_encrypted_and_versioned,
    ),
    Policy(
        "state-bucket-private-and-tls-only",
        "The Pulumi state bucket blocks public access and refuses plain HTTP",
        state_bucket_private_and_tls_only,
    ),
    Policy("kms-key-rotation", "Symmetric KMS keys rotate yearly", kms_key_rotation),
)
