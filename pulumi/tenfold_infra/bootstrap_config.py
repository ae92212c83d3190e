"""The bootstrap config: typed, validated at once, every error naming the key and its expected form.

Keys live in the bootstrap project's namespace of infra/bootstrap/Pulumi.<stack>.yaml
(`<project>-bootstrap:githubRepository: acme/orders`). One bootstrap stack per AWS account:
it creates the GitHub OIDC provider, one deploy role per service stack deployed to that
account, and optionally the S3 bucket and KMS key of a self-managed Pulumi state backend.

Each deploy role is derived from its service stack's own config (infra/Pulumi.<stack>.yaml,
read and validated like `pulumi up` reads it): its name prefix, its hosted zone, and what it
creates (stack.footprint). Change what a stack creates (cdn, broker, domainName, image) and
run the bootstrap again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi

from .config import ConfigError, StackConfig, parse_config

# GitHub account names: letters, digits and single hyphens, no hyphen at either end, at most
# 39 characters. Repository names: letters, digits, '.', '-' and '_', at most 100 characters.
GITHUB_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
GITHUB_REPOSITORY_NAME = r"[A-Za-z0-9._-]{1,100}"
# Pulumi stack names: letters, digits, '-', '_' and '.'.
STACK_NAME = r"[A-Za-z0-9_.-]{1,100}"
# GitHub environment names: at most 255 characters. ':' would make the OIDC subject
# `repo:<owner>/<repo>:environment:<name>` ambiguous, '*' and '?' read as wildcards.
ENVIRONMENT_NAME = r"[^:*?\s](?:[^:*?\n\r\t]{0,253}[^:*?\s])?"
OIDC_PROVIDER_ARN = (
    r"arn:aws(?:-cn|-us-gov)?:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com"
)
HOSTED_ZONE_ID = r"Z[A-Z0-9]{1,31}"
SERVICE_PROJECT = r"[a-z][a-z0-9-]{0,39}"
DEFAULT_ENVIRONMENTS = {"dev": "dev", "prod": "production"}
BOOTSTRAP_SUFFIX = "-bootstrap"

KEYS = (
    "githubRepository",
    "environments",
    "existingOidcProviderArn",
    "stateBackend",
    "hostedZoneId",
    "serviceProject",
)


@dataclass(frozen=True)
class BootstrapConfig:
    project: str
    stack: str
    region: str
    # `owner/name` of the repository whose workflows may deploy.
    github_repository: str
    # Service stack name -> GitHub environment its deploy job runs in.
    environments: Mapping[str, str]
    existing_oidc_provider_arn: str | None
    state_backend: bool
    hosted_zone_id: str | None
    # The service's Pulumi project: its stacks name their resources `<project>-<stack>-...`.
    service_project: str
    # Each service stack's validated config (infra/Pulumi.<stack>.yaml), by stack name.
    service_stacks: Mapping[str, StackConfig]

    @property
    def name(self) -> str:
        """Prefix of the bootstrap's own AWS names."""
        return self.project


def _error(namespace: str, key: str, expected: str, value: object) -> ConfigError:
    return ConfigError(f"{namespace}:{key} {expected}, got {value!r}")


def _github_repository(namespace: str, raw: Mapping[str, str]) -> str:
    expected = (
        "must be the GitHub repository as owner/name, such as acme/orders "
        "(owner: letters, digits and single hyphens, at most 39 characters; "
        "name: letters, digits, '.', '-' and '_')"
    )
    value = raw.get("githubRepository")
    if not value:
        raise ConfigError(
            f"{namespace}:githubRepository is required: it {expected} "
            "(pulumi config set githubRepository <owner>/<name>)"
        )
    owner, slash, name = value.partition("/")
    if not slash:
        raise _error(namespace, "githubRepository", f"{expected}; the '/' is missing", value)
    if not re.fullmatch(GITHUB_OWNER, owner):
        raise _error(
            namespace, "githubRepository", f"{expected}; {owner!r} is not a GitHub owner", value
        )
    if not re.fullmatch(GITHUB_REPOSITORY_NAME, name) or name in (".", ".."):
        raise _error(
            namespace,
            "githubRepository",
            f"{expected}; {name!r} is not a GitHub repository name",
            value,
        )
    return value


def _environments(namespace: str, raw: Mapping[str, str]) -> dict[str, str]:
    expected = (
        "must map each service stack to the GitHub environment its deploy job runs in, "
        "such as {dev: dev, prod: production}"
    )
    if "environments" not in raw:
        return dict(DEFAULT_ENVIRONMENTS)
    try:
        parsed = json.loads(raw["environments"])
    except ValueError:
        raise _error(namespace, "environments", expected, raw["environments"]) from None
    if not isinstance(parsed, dict) or not parsed:
        raise _error(namespace, "environments", expected, parsed)
    for stack, environment in parsed.items():
        if not re.fullmatch(STACK_NAME, stack):
            raise _error(
                namespace,
                "environments",
                f"{expected}; stack {stack!r} is not a Pulumi stack name "
                "(letters, digits, '-', '_', '.')",
                parsed,
            )
        if not isinstance(environment, str) or not re.fullmatch(ENVIRONMENT_NAME, environment):
            raise _error(
                namespace,
                "environments",
                f"{expected}; environment {environment!r} of stack {stack!r} must be a GitHub "
                "environment name of at most 255 characters without ':', '*' or '?'",
                parsed,
            )
    # One environment's jobs would assume every role that trusts it, prod's too.
    first_stack: dict[str, str] = {}
    for stack, environment in parsed.items():
        other = first_stack.setdefault(environment.lower(), stack)
        if other != stack:
            raise _error(
                namespace,
                "environments",
                f"{expected}; stacks {other!r} and {stack!r} share the GitHub environment "
                f"{environment!r} (names ignore case): give each stack its own",
                parsed,
            )
    return {str(k): str(v) for k, v in parsed.items()}


def _optional(
    namespace: str, raw: Mapping[str, str], key: str, pattern: str, expected: str
) -> str | None:
    value = raw.get(key)
    if not value:
        return None
    if not re.fullmatch(pattern, value):
        raise _error(namespace, key, expected, value)
    return value


def read_service_stacks(
    service_directory: Path, stacks: Mapping[str, str]
) -> dict[str, StackConfig]:
    """Each service stack's config, read from infra/Pulumi.<stack>.yaml as `pulumi up` reads it."""
    from .preview import read_stack_config

    configs = {}
    for stack in stacks:
        try:
            project, values = read_stack_config(service_directory, stack)
            raw = {
                key.split(":", 1)[1]: value
                for key, value in values.items()
                if key.startswith(f"{project}:")
            }
            configs[stack] = parse_config(project, stack, raw, values.get("aws:region"))
        except ConfigError as error:
            raise ConfigError(
                f"service stack {stack!r}: {error} (the bootstrap derives the deploy role of "
                f"each stack in `environments` from infra/Pulumi.<stack>.yaml)"
            ) from None
    return configs


def _check_service_stacks(
    namespace: str,
    service_project: str,
    region: str,
    hosted_zone_id: str | None,
    stacks: Mapping[str, StackConfig],
) -> None:
    for stack, config in stacks.items():
        if config.project != service_project:
            raise ConfigError(
                f"{namespace}:serviceProject is {service_project!r}, but infra/Pulumi.yaml names "
                f"the service's project {config.project!r}: set serviceProject to it"
            )
        if config.region != region:
            raise ConfigError(
                f"aws:region is {region}, but service stack {stack!r} deploys to "
                f"{config.region}: run a bootstrap stack in each account and region, with "
                "only the environments deployed there"
            )
        if hosted_zone_id and config.hosted_zone_id not in (None, hosted_zone_id):
            raise ConfigError(
                f"{namespace}:hostedZoneId is {hosted_zone_id}, but service stack {stack!r} "
                f"validates its domain in {config.hosted_zone_id}: remove hostedZoneId (each "
                "deploy role now reaches its own stack's zone)"
            )


def parse_bootstrap_config(
    project: str,
    stack: str,
    raw: Mapping[str, str],
    region: str | None,
    read_stacks: Callable[[Mapping[str, str]], Mapping[str, StackConfig]],
) -> BootstrapConfig:
    """Validate raw string values (as Pulumi stores them) into a BootstrapConfig.

    `read_stacks` gives the configs of the service stacks `environments` names (by stack); it
    is called once the bootstrap's own keys are valid, so their errors come first.
    """
    if not region:
        raise ConfigError(
            "aws:region is required: set it to the AWS region of the service, such as eu-west-1"
        )
    state_backend = raw.get("stateBackend", "false")
    if state_backend.lower() not in ("true", "false"):
        raise _error(project, "stateBackend", "must be true or false", state_backend)
    default_service = project.removesuffix(BOOTSTRAP_SUFFIX)
    service_project = raw.get("serviceProject") or default_service
    if not re.fullmatch(SERVICE_PROJECT, service_project):
        raise _error(
            project,
            "serviceProject",
            "must be the service's Pulumi project name (infra/Pulumi.yaml `name`), "
            "lowercase letters, digits and '-', such as orders",
            service_project,
        )
    github_repository = _github_repository(project, raw)
    environments = _environments(project, raw)
    hosted_zone_id = _optional(
        project,
        raw,
        "hostedZoneId",
        HOSTED_ZONE_ID,
        "must be a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ",
    )
    existing_provider = _optional(
        project,
        raw,
        "existingOidcProviderArn",
        OIDC_PROVIDER_ARN,
        "must be the ARN of the account's GitHub OIDC provider, such as "
        "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com "
        "(aws iam list-open-id-connect-providers), or be left unset to create it",
    )
    service_stacks = read_stacks(environments)
    _check_service_stacks(project, service_project, region, hosted_zone_id, service_stacks)
    return BootstrapConfig(
        project=project,
        stack=stack,
        region=region,
        github_repository=github_repository,
        environments=environments,
        existing_oidc_provider_arn=existing_provider,
        state_backend=state_backend.lower() == "true",
        hosted_zone_id=hosted_zone_id,
        service_project=service_project,
        service_stacks={s: service_stacks[s] for s in environments},
    )


def load_bootstrap_config(directory: Path | None = None) -> BootstrapConfig:
    """Read the running bootstrap stack's config and its service stacks' (under `pulumi up` and
    under the preview's mocks); `directory` is infra/bootstrap/, the working directory of
    `pulumi up`."""
    from pulumi.runtime.config import CONFIG, get_config_env

    project, stack = pulumi.get_project(), pulumi.get_stack()
    config = pulumi.Config()
    raw = {key: value for key in KEYS if (value := config.get(key)) is not None}
    prefix = f"{project}:"
    unknown = sorted(
        k[len(prefix) :]
        for k in {**get_config_env(), **CONFIG.get()}
        if k.startswith(prefix) and k[len(prefix) :] not in KEYS
    )
    if unknown:
        raise ConfigError(
            f"{project}:{unknown[0]} is not a known bootstrap setting: use one of {', '.join(KEYS)}"
        )
    service_directory = (directory or Path.cwd()).resolve().parent
    return parse_bootstrap_config(
        project,
        stack,
        raw,
        pulumi.Config("aws").get("region"),
        lambda environments: read_service_stacks(service_directory, environments),
    )
