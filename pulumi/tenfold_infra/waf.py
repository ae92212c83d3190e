"""WAF: AWS managed rules and a per-IP rate limit on the public entry point.

At the edge (scope CLOUDFRONT) the web ACL must be created in us-east-1, whatever the
stack's region; without a CDN it is REGIONAL and associated with the internet-facing ALB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi_aws as aws

import pulumi

from .names import fit

# AWS managed rule groups, in evaluation order: known bad inputs (Log4j, ...), the core rule
# set (OWASP top ten), and addresses Amazon threat intelligence reports as malicious.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesCommonRuleSet",
)
# WAFv2 entity names: 1-128 characters (botocore wafv2 EntityName).
WAF_NAME_LIMIT = 128
# CloudFront-scope web ACLs live in US East (N. Virginia) only.
CLOUDFRONT_REGION = "us-east-1"


@dataclass(frozen=True)
class WebFirewallArgs:
    scope: Literal["CLOUDFRONT", "REGIONAL"]
    # REGIONAL only: the ALB the web ACL protects.
    load_balancer_arn: pulumi.Input[str] | None = None
    # Requests per client IP in any 5-minute window before WAF blocks it: far above what a
    # person generates, low enough to blunt credential stuffing and scraping.
    rate_limit_per_5_minutes: int = 2000
    managed_rule_groups: Sequence[str] = MANAGED_RULE_GROUPS
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.scope == "REGIONAL") != (self.load_balancer_arn is not None):
            raise ValueError(
                "a REGIONAL web ACL needs the load_balancer_arn it protects (and only it)"
            )
        if not 10 <= self.rate_limit_per_5_minutes <= 2_000_000_000:
            raise ValueError(
                "rate_limit_per_5_minutes must be between 10 and 2,000,000,000 (AWS WAF)"
            )


def _visibility(metric: str) -> aws.wafv2.WebAclVisibilityConfigArgs:
    return aws.wafv2.WebAclVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _rule_visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


class WebFirewall(pulumi.ComponentResource):
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: WebFirewallArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:waf:WebFirewall", name, None, opts)
        edge = args.scope == "CLOUDFRONT"
        rules = [
            aws.wafv2.WebAclRuleArgs(
                name=group,
                priority=priority,
                override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
                    # The groups' own actions apply (no override to count-only).
                    none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()  # type: ignore[no-untyped-call]
                ),
                statement=aws.wafv2.WebAclRuleStatementArgs(
                    managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                        vendor_name="AWS", name=group
                    )
                ),
                visibility_config=_rule_visibility(group),
            )
            for priority, group in enumerate(args.managed_rule_groups)
        ]
        rules.append(
            aws.wafv2.WebAclRuleArgs(
                name="rate-limit-per-ip",
                priority=len(rules),
                action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
                statement=aws.wafv2.WebAclRuleStatementArgs(
                    rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                        aggregate_key_type="IP",
                        limit=args.rate_limit_per_5_minutes,
                        evaluation_window_sec=300,
                    )
                ),
                visibility_config=_rule_visibility("rate-limit-per-ip"),
            )
        )
        acl_name = fit(f"{name}-{'edge' if edge else 'alb'}", WAF_NAME_LIMIT)
        acl = aws.wafv2.WebAcl(
            f"{name}-web-acl",
            name=acl_name,
            description=f"{name}: AWS managed rules and a per-IP rate limit",
            scope=args.scope,
            # Explicit, so the policies see where a CLOUDFRONT-scope ACL is created.
            region=CLOUDFRONT_REGION if edge else None,
            default_action={"allow": {}},
            rules=rules,
            visibility_config=_visibility(acl_name),
            tags=dict(args.tags),
            # At the edge, the parent passes its us-east-1 provider down.
            opts=pulumi.ResourceOptions(parent=self),
        )
        if args.load_balancer_arn is not None:
            aws.wafv2.WebAclAssociation(
                f"{name}-web-acl",
                resource_arn=args.load_balancer_arn,
                web_acl_arn=acl.arn,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.arn = acl.arn
        self.register_outputs({"arn": self.arn})
