"""The account bootstrap (infra/bootstrap/) previews offline for every answer set, its deploy
roles trust exactly one repository and environment, and its permissions reach what the
service stack creates and no more."""

from __future__ import annotations

import fnmatch
import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from rendered_bootstrap import (
    EXISTING_PROVIDER_ARN,
    GITHUB_REPOSITORY,
    STACKS,
    RenderedBootstrap,
    bootstrap,
    run_bootstrap_preview,
)
from rendered_services import ANSWER_SETS, Rendered, render, rendered
from tenfold_infra.bootstrap_config import parse_bootstrap_config, read_service_stacks
from tenfold_infra.config import ConfigError, StackConfig, parse_config, resource_prefix

ROLE = "aws:iam/role:Role"
POLICY = "aws:iam/policy:Policy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
ENVIRONMENTS = {"dev": "dev", "prod": "production"}


@pytest.fixture(scope="session", params=list(ANSWER_SETS), ids=list(ANSWER_SETS))
def rendered_bootstrap(request: pytest.FixtureRequest) -> RenderedBootstrap:
    return bootstrap(request.param)


def roles(b: RenderedBootstrap, stack: str = "account") -> dict[str, dict[str, Any]]:
    """Deploy roles by the GitHub environment they trust."""
    return {r["inputs"]["tags"]["Environment"]: r["inputs"] for r in b.resources(stack, ROLE)}


def statements(b: RenderedBootstrap, stack: str = "account") -> list[dict[str, Any]]:
    return [
        s
        for r in b.resources(stack, POLICY)
        for s in json.loads(r["inputs"]["policy"])["Statement"]
    ]


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_every_bootstrap_stack_previews_offline_with_its_policies_green(
    rendered_bootstrap: RenderedBootstrap,
) -> None:
    for stack in STACKS:
        preview = rendered_bootstrap.previews[stack]
        failed = [p for p in preview["policies"] if not p["passed"]]
        assert not failed, f"{stack}: {failed}"
        assert set(preview["outputs"]["deployRoleArns"]) == set(ENVIRONMENTS)
        assert preview["outputs"]["githubEnvironments"] == ENVIRONMENTS
        assert len(rendered_bootstrap.resources(stack, ROLE)) == len(ENVIRONMENTS)
        # Each role gets every policy of its stack attached, and nothing else.
        policies = {
            p["name"]: p["inputs"]["tags"]["ServiceStack"]
            for p in rendered_bootstrap.resources(stack, POLICY)
        }
        role_of_stack = {
            r["tags"]["ServiceStack"]: r["name"] for r in roles(rendered_bootstrap, stack).values()
        }
        attached = sorted(
            (a["inputs"]["role"], a["inputs"]["policyArn"].rsplit(":", 1)[-1])
            for a in rendered_bootstrap.resources(stack, ATTACHMENT)
        )
        assert attached == sorted((role_of_stack[s], name) for name, s in policies.items())
        assert all(count >= 2 for count in Counter(policies.values()).values())


def test_the_state_backend_is_optional_and_printed_as_login_and_secrets_provider(
    rendered_bootstrap: RenderedBootstrap,
) -> None:
    without = rendered_bootstrap.previews["account"]
    assert not rendered_bootstrap.resources("account", "aws:s3/bucket:Bucket")
    assert "stateBackendUrl" not in without["outputs"]
    state = rendered_bootstrap.previews["state"]["outputs"]
    assert state["stateBackendUrl"].startswith("s3://")
    assert state["secretsProvider"].startswith("awskms://alias/")
    assert state["secretsProvider"].endswith(
        f"?region={rendered_bootstrap.answers.get('aws_region', 'eu-west-1')}"
    )
    (bucket,) = rendered_bootstrap.resources("state", "aws:s3/bucket:Bucket")
    assert len(bucket["inputs"]["bucketPrefix"]) <= 37  # S3's 63 minus the 26-character suffix
    # Every deploy role may read and write the state and use the key, under .pulumi/ only.
    state_objects = [
        s for s in statements(rendered_bootstrap, "state") if s["Sid"] == "StateObjects"
    ]
    assert len(state_objects) == len(ENVIRONMENTS)
    assert all(s["Resource"][0].endswith("/.pulumi/*") for s in state_objects)


def test_an_existing_oidc_provider_is_reused_not_created(
    rendered_bootstrap: RenderedBootstrap,
) -> None:
    assert len(rendered_bootstrap.resources("account", OIDC_PROVIDER)) == 1
    assert not rendered_bootstrap.resources("reuse", OIDC_PROVIDER)
    assert (
        rendered_bootstrap.previews["reuse"]["outputs"]["oidcProviderArn"] == EXISTING_PROVIDER_ARN
    )
    for role in roles(rendered_bootstrap, "reuse").values():
        trust = json.loads(role["assumeRolePolicy"])
        assert trust["Statement"][0]["Principal"] == {"Federated": EXISTING_PROVIDER_ARN}


def test_trust_policy_is_exactly_pinned_to_the_repository_and_environment(
    rendered_bootstrap: RenderedBootstrap,
) -> None:
    (provider,) = rendered_bootstrap.resources("account", OIDC_PROVIDER)
    assert provider["inputs"]["url"] == "https://token.actions.githubusercontent.com"
    assert provider["inputs"]["clientIdLists"] == ["sts.amazonaws.com"]
    for environment, role in roles(rendered_bootstrap).items():
        trust = json.loads(role["assumeRolePolicy"])
        assert trust == {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {
                        "Federated": rendered_bootstrap.previews["account"]["outputs"][
                            "oidcProviderArn"
                        ]
                    },
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                            "token.actions.githubusercontent.com:sub": (
                                f"repo:{GITHUB_REPOSITORY}:environment:{environment}"
                            ),
                        }
                    },
                }
            ],
        }
        assert role["maxSessionDuration"] <= 2 * 3600
        assert role["path"] == "/github-deploy/"


def test_permissions_contain_no_wildcard_actions(rendered_bootstrap: RenderedBootstrap) -> None:
    for stack in STACKS:
        for statement in statements(rendered_bootstrap, stack):
            assert statement["Effect"] == "Allow"
            assert "NotAction" not in statement
            for action in actions(statement):
                service, _, name = action.partition(":")
                assert action != "*", action
                assert name not in ("", "*"), action
                assert not (service == "iam" and "*" in name), action
                if service == "iam" and not name.startswith(("Get", "List")):
                    assert "*" not in statement["Resource"], statement


def test_pass_role_reaches_only_ecs_tasks_and_rds_monitoring(
    rendered_bootstrap: RenderedBootstrap,
) -> None:
    passing = [s for s in statements(rendered_bootstrap) if "iam:PassRole" in actions(s)]
    assert len(passing) == len(ENVIRONMENTS)
    for statement in passing:
        assert actions(statement) == ["iam:PassRole"]
        assert statement["Condition"] == {
            "StringEquals": {
                "iam:PassedToService": ["ecs-tasks.amazonaws.com", "monitoring.rds.amazonaws.com"]
            }
        }


def test_route53_is_scoped_to_the_hosted_zone(rendered_bootstrap: RenderedBootstrap) -> None:
    zone = rendered_bootstrap.answers.get("hosted_zone_id")
    changes = [
        s
        for s in statements(rendered_bootstrap)
        if "route53:ChangeResourceRecordSets" in actions(s)
    ]
    if not zone:
        assert not changes  # no domain: the deploy role cannot touch DNS at all
        return
    assert changes
    assert all(s["Resource"] == [f"arn:aws:route53:::hostedzone/{zone}"] for s in changes)


def _physical(resource: dict[str, Any]) -> str:
    """The name AWS sees: the explicit one, or Pulumi's auto-name `<logical>-<7 characters>`."""
    inputs = resource["inputs"]
    if inputs.get("name"):
        return str(inputs["name"])
    if inputs.get("bucketPrefix"):
        return f"{inputs['bucketPrefix']}abcdefghijklmnopqrstuvwxyz"
    return f"{resource['name']}-abc1234"


def _allowed(statements_: list[dict[str, Any]], action: str, arn: str) -> bool:
    return any(
        action in actions(s) and any(fnmatch.fnmatchcase(arn, pattern) for pattern in s["Resource"])
        for s in statements_
    )


@pytest.mark.parametrize("answers", ["defaults", "long-slug-redis-3-replicas"])
def test_the_dev_role_reaches_every_named_resource_of_the_dev_stack(answers: str) -> None:
    """The name prefixes the role is scoped to are the ones the service stack really uses."""
    service: Rendered = rendered(answers)
    b = bootstrap(answers)
    dev = [
        s
        for r in b.resources("account", POLICY)
        if r["inputs"]["name"].endswith("-dev-stack")
        for s in json.loads(r["inputs"]["policy"])["Statement"]
    ]
    region = service.answers["aws_region"]
    checks = {
        "aws:iam/role:Role": ("iam:CreateRole", "arn:aws:iam::123456789012:role/{}"),
        "aws:s3/bucket:Bucket": ("s3:CreateBucket", "arn:aws:s3:::{}"),
        "aws:secretsmanager/secret:Secret": (
            "secretsmanager:CreateSecret",
            f"arn:aws:secretsmanager:{region}:123456789012:secret:{{}}-AbCdEf",
        ),
        "aws:cloudwatch/logGroup:LogGroup": (
            "logs:CreateLogGroup",
            f"arn:aws:logs:{region}:123456789012:log-group:{{}}",
        ),
        "aws:sns/topic:Topic": ("sns:CreateTopic", f"arn:aws:sns:{region}:123456789012:{{}}"),
        "aws:ecr/repository:Repository": (
            "ecr:CreateRepository",
            f"arn:aws:ecr:{region}:123456789012:repository/{{}}",
        ),
    }
    checked = 0
    for type_, (action, arn) in checks.items():
        for resource in service.resources("dev", type_):
            name = _physical(resource)
            assert _allowed(dev, action, arn.format(name)), f"{action} on {name}"
            checked += 1
    assert checked >= 4
    # ... and never the prod stack's, whatever the slug's length.
    project = str(yaml.safe_load((service.infra / "Pulumi.yaml").read_text())["name"])
    prod_prefix = resource_prefix(project, "prod")
    assert prod_prefix != resource_prefix(project, "dev")
    assert not _allowed(
        dev, "iam:CreateRole", f"arn:aws:iam::123456789012:role/{prod_prefix}-task-abc1234"
    )


def test_text_preview_lists_resources_policies_and_outputs() -> None:
    done = run_bootstrap_preview(bootstrap("defaults").root, "state")
    assert done.returncode == 0, done.stderr
    assert "Offline preview of bootstrap stack state" in done.stdout
    assert "PASS github-oidc-trust-pinned" in done.stdout
    assert "stateBackendUrl" in done.stdout


def test_without_a_repository_the_preview_names_the_key(tmp_path: Path) -> None:
    root = render(tmp_path / "service", {})
    sample = (root / "infra" / "bootstrap" / "Pulumi.account.yaml").read_text()
    assert "pulumi config set githubRepository" in sample
    done = run_bootstrap_preview(root, "account")
    assert done.returncode == 2
    assert "demo-service-bootstrap:githubRepository is required" in done.stderr


BAD_CONFIG = [
    ({"githubRepository": "acme"}, "githubRepository", "the '/' is missing"),
    ({"githubRepository": "-acme/orders"}, "githubRepository", "is not a GitHub owner"),
    ({"githubRepository": "ac--me/orders"}, "githubRepository", "is not a GitHub owner"),
    ({"githubRepository": "a" * 40 + "/orders"}, "githubRepository", "at most 39 characters"),
    ({"githubRepository": "acme/or ders"}, "githubRepository", "not a GitHub repository name"),
    ({"githubRepository": "acme/.."}, "githubRepository", "not a GitHub repository name"),
    ({"githubRepository": "https://github.com/acme/orders"}, "githubRepository", "owner/name"),
    ({"githubRepository": ""}, "githubRepository", "is required"),
    ({"environments": "[dev, prod]"}, "environments", "must map each service stack"),
    ({"environments": "{}"}, "environments", "must map each service stack"),
    ({"environments": '{"dev": "dev:*"}'}, "environments", "without ':', '*' or '?'"),
    ({"environments": '{"dev": ""}'}, "environments", "GitHub environment name"),
    ({"environments": '{"dev stack": "dev"}'}, "environments", "is not a Pulumi stack name"),
    (
        {"environments": '{"dev": "prod", "prod": "Prod"}'},
        "environments",
        "share the GitHub environment",
    ),
    (
        {"existingOidcProviderArn": "arn:aws:iam::123456789012:oidc-provider/gitlab.com"},
        "existingOidcProviderArn",
        "list-open-id-connect-providers",
    ),
    ({"stateBackend": "yes"}, "stateBackend", "must be true or false"),
    ({"hostedZoneId": "z123"}, "hostedZoneId", "Route 53 hosted zone id"),
    ({"serviceProject": "Orders"}, "serviceProject", "Pulumi project name"),
]


@pytest.mark.parametrize(
    ("overrides", "key", "phrase"),
    BAD_CONFIG,
    ids=[f"{key}={overrides[key][:24]!r}" for overrides, key, _ in BAD_CONFIG],
)
def test_bad_config_names_the_key_and_the_expected_form(
    overrides: dict[str, str], key: str, phrase: str
) -> None:
    raw = {"githubRepository": "acme/orders", **overrides}
    with pytest.raises(ConfigError) as error:
        parse_bootstrap_config("orders-bootstrap", "account", raw, "eu-west-1", service_stacks())
    assert str(error.value).startswith(f"orders-bootstrap:{key} ")
    assert phrase in str(error.value)


def service_stacks(
    project: str = "orders", region: str = "eu-west-1", **settings: str
) -> Callable[[Mapping[str, str]], dict[str, StackConfig]]:
    """Service stacks as the bootstrap reads them, for the stacks `environments` names."""

    def read(environments: Mapping[str, str]) -> dict[str, StackConfig]:
        return {
            stack: parse_config(
                project,
                stack,
                {"tier": "prod" if stack == "prod" else "dev", "alarmEmail": "a@b.co", **settings},
                region,
            )
            for stack in environments
        }

    return read


def test_good_config_gets_production_defaults() -> None:
    config = parse_bootstrap_config(
        "orders-bootstrap",
        "account",
        {"githubRepository": "Acme-Corp/orders.api"},
        "eu-west-1",
        service_stacks(),
    )
    assert config.environments == ENVIRONMENTS
    assert config.service_project == "orders"
    assert not config.state_backend
    assert config.existing_oidc_provider_arn is None
    assert {s: c.name for s, c in config.service_stacks.items()} == {
        "dev": "orders-dev",
        "prod": "orders-prod",
    }
    with pytest.raises(ConfigError, match="aws:region is required"):
        parse_bootstrap_config(
            "orders-bootstrap", "account", {"githubRepository": "a/b"}, None, service_stacks()
        )


@pytest.mark.parametrize(
    ("read", "raw", "phrase"),
    [
        (service_stacks("billing"), {}, "infra/Pulumi.yaml names the service's project 'billing'"),
        (service_stacks(region="us-east-1"), {}, "deploys to us-east-1"),
        (
            service_stacks(domainName="api.example.com", hostedZoneId="Z0OTHERZONE"),
            {"hostedZoneId": "Z0123456789ABCDEFGHIJ"},
            "validates its domain in Z0OTHERZONE",
        ),
    ],
    ids=["project", "region", "zone"],
)
def test_service_stacks_that_do_not_fit_the_bootstrap_are_refused(
    read: Callable[[Mapping[str, str]], dict[str, StackConfig]],
    raw: dict[str, str],
    phrase: str,
) -> None:
    with pytest.raises(ConfigError, match=re.escape(phrase)):
        parse_bootstrap_config(
            "orders-bootstrap", "account", {"githubRepository": "a/b", **raw}, "eu-west-1", read
        )


def test_a_stack_without_its_file_or_with_a_bad_config_names_both(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: orders\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        yaml.safe_dump({"config": {"aws:region": "eu-west-1", "orders:tier": "dev"}})
    )
    (tmp_path / "Pulumi.prod.yaml").write_text(
        yaml.safe_dump({"config": {"aws:region": "eu-west-1", "orders:tier": "prod"}})
    )
    assert read_service_stacks(tmp_path, {"dev": "dev"})["dev"].name == "orders-dev"
    with pytest.raises(ConfigError) as error:
        read_service_stacks(tmp_path, {"staging": "staging"})
    assert "service stack 'staging'" in str(error.value)
    assert "Pulumi.staging.yaml" in str(error.value)
    with pytest.raises(ConfigError, match=r"service stack 'prod'.*alarmEmail is required"):
        read_service_stacks(tmp_path, ENVIRONMENTS)
