"""The one-time account bootstrap: GitHub OIDC, a deploy role per stack, the release repository, a state backend.

An administrator runs it once per AWS account (infra/bootstrap/, `pulumi up`); afterwards the
service's GitHub workflow deploys with short-lived credentials from the role of its
environment, and nobody keeps AWS keys in GitHub.
"""

from __future__ import annotations

from typing import Any

import pulumi

from .bootstrap_config import BootstrapConfig, load_bootstrap_config
from .deploy_role import DeployRole, DeployRoleArgs, stack_actions
from .github_oidc import GithubOidc, GithubOidcArgs
from .names import fit
from .registry import image_repository
from .stack import footprint, record_names
from .state_backend import StateBackend, StateBackendArgs

# IAM role names have at most 64 characters; ECR repository names 256.
ROLE_NAME_LIMIT = 64
ECR_NAME_LIMIT = 256
# The tag naming the service stack a deploy role (and each of its policies) serves.
SERVICE_STACK_TAG = "ServiceStack"


def deploy_role_name(service_project: str, stack: str) -> str:
    """`deploy-<project>-<stack>`: outside the `<project>-<stack>-*` names the role may edit."""
    return fit(f"deploy-{service_project}-{stack}", ROLE_NAME_LIMIT)


def foreign_record_names(config: BootstrapConfig, stack: str) -> tuple[str, ...]:
    """The other stacks' domains under this stack's own (dev.api.example.com under
    api.example.com): the records this stack's role must not change."""
    own = config.service_stacks[stack].domain_name
    if not own:
        return ()
    return tuple(
        sorted(
            other.domain_name
            for name, other in config.service_stacks.items()
            if name != stack and other.domain_name and other.domain_name.endswith(f".{own}")
        )
    )


def build(config: BootstrapConfig) -> dict[str, pulumi.Output[Any]]:
    """Create the bootstrap's resources and return its outputs (exported by `run`)."""
    tags = {
        "Project": config.service_project,
        "Stack": config.stack,
        "ManagedBy": "pulumi",
        "Purpose": "github-deploy",
    }
    oidc = GithubOidc(
        config.name,
        GithubOidcArgs(existing_provider_arn=config.existing_oidc_provider_arn, tags=tags),
    )
    backend = (
        StateBackend(config.name, StateBackendArgs(region=config.region, tags=tags))
        if config.state_backend
        else None
    )
    # One repository per service and account: CI pushes each commit's image once (immutable
    # tag = the commit SHA) and dev and prod deploy that same image.
    release_name = fit(f"{config.service_project}-releases", ECR_NAME_LIMIT)
    releases = image_repository(
        release_name,
        keep_images=100,
        untagged_days=1,
        force_delete=False,
        tags=tags,
        opts=pulumi.ResourceOptions(),
    )
    roles = {
        stack: DeployRole(
            f"{config.name}-{stack}",
            DeployRoleArgs(
                provider_arn=oidc.provider_arn,
                github_repository=config.github_repository,
                environment=environment,
                role_name=deploy_role_name(config.service_project, stack),
                region=config.region,
                # The service stack's own config says what its deploy needs.
                name_prefix=config.service_stacks[stack].name,
                actions=stack_actions(footprint(config.service_stacks[stack])),
                hosted_zone_id=config.service_stacks[stack].hosted_zone_id,
                record_names=record_names(config.service_stacks[stack]),
                foreign_record_names=foreign_record_names(config, stack),
                state_bucket=backend.bucket_name if backend else None,
                state_key_arn=backend.key_arn if backend else None,
                release_repository=release_name,
                tags={**tags, "Environment": environment, SERVICE_STACK_TAG: stack},
            ),
        )
        for stack, environment in config.environments.items()
    }
    outputs: dict[str, pulumi.Output[Any]] = {
        "oidcProviderArn": oidc.provider_arn,
        # Copy each into its GitHub environment as the variable AWS_DEPLOY_ROLE_ARN.
        "deployRoleArns": pulumi.Output.all(**{s: r.arn for s, r in roles.items()}),
        "githubEnvironments": pulumi.Output.from_input(dict(config.environments)),
        "awsRegion": pulumi.Output.from_input(config.region),
        # The repository variable IMAGE_REPOSITORY of the deploy workflow.
        "imageRepositoryUrl": releases.repository_url,
    }
    if backend:
        outputs["stateBackendUrl"] = backend.backend_url
        outputs["secretsProvider"] = backend.secrets_provider
        outputs["stateBucket"] = backend.bucket_name
        outputs["stateKeyArn"] = backend.key_arn
    return outputs


def run() -> None:
    """Entry point of infra/bootstrap/__main__.py under `pulumi up`."""
    for key, value in build(load_bootstrap_config()).items():
        pulumi.export(key, value)
