"""The GitHub Actions OIDC identity provider: workflows trade a signed token for a role, no keys.

An account holds one provider per issuer URL, so a second service in the same account reuses
the first one's provider by ARN instead of creating a duplicate (IAM refuses it with
EntityAlreadyExists). AWS trusts GitHub's certificate through its own root CA library, so no
thumbprint is pinned. See GitHub's "Configuring OpenID Connect in Amazon Web Services":
https://docs.github.com/en/actions/how-tos/secure-your-work/security-harden-deployments/oidc-in-aws
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi_aws as aws

import pulumi

ISSUER = "token.actions.githubusercontent.com"
ISSUER_URL = f"https://{ISSUER}"
# The audience aws-actions/configure-aws-credentials asks GitHub for.
AUDIENCE = "sts.amazonaws.com"


@dataclass(frozen=True)
class GithubOidcArgs:
    # ARN of the provider the account already has; None creates it.
    existing_provider_arn: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


class GithubOidc(pulumi.ComponentResource):
    provider_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: GithubOidcArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:github_oidc:GithubOidc", name, None, opts)
        if args.existing_provider_arn:
            self.provider_arn = pulumi.Output.from_input(args.existing_provider_arn)
        else:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github",
                url=ISSUER_URL,
                client_id_lists=[AUDIENCE],
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.provider_arn = provider.arn
        self.register_outputs({"provider_arn": self.provider_arn})
