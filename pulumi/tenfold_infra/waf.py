"""WAF: AWS managed rules and a per-IP rate limit on the public entry point.

At the edge (scope CLOUDFRONT) the web ACL must be created in us-east-1, whatever the
stack's region; without a CDN it is REGIONAL and associated with the internet-facing ALB.

Request bodies: the core rule set's SizeRestrictions_BODY blocks every body over 8 KB, and the
app accepts up to MAX_REQUEST_BODY_BYTES (1 MiB by default), so that rule only counts. WAF
sees at most the first 16 KB of a body behind CloudFront (8 KB behind an ALB) and cannot
measure a bigger one, so the app's limit is enforced at the edge on the declared size: a
rule answers 413 to a Content-Length over the limit. A body sent without Content-Length
(chunked) reaches the app, which counts it and answers 413 itself. The core rule set's other
body rules inspect the first 16 KB (8 KB) and let the rest through uninspected (oversize
handling CONTINUE): https://docs.aws.amazon.com/waf/latest/developerguide/web-acl-setting-body-inspection-limit.html
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
# The core rule set's rule that blocks bodies over 8 KB:
# https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html#aws-managed-rule-groups-baseline-crs
COMMON_RULE_SET = "AWSManagedRulesCommonRuleSet"
BODY_SIZE_RULE = "SizeRestrictions_BODY"
# WAF answers a request whose declared body is over the app's limit like the app would.
PAYLOAD_TOO_LARGE = 413
# WAFv2 entity names: 1-128 characters (botocore wafv2 EntityName).
WAF_NAME_LIMIT = 128
# CloudFront-scope web ACLs live in US East (N. Virginia) only.
CLOUDFRONT_REGION = "us-east-1"


def content_length_over(limit: int) -> str:
    """A regular expression matching a Content-Length value (digits, leading zeros and
    spaces allowed) that is a number greater than `limit`."""
    digits = str(limit)

    def any_digits(count: int) -> str:
        return "[0-9]" + "{" + str(count) + "}" if count else ""

    longer = "[1-9][0-9]" + "{" + str(len(digits)) + ",}"
    same_length = [
        f"{digits[:i]}[{int(d) + 1}-9]" + any_digits(len(digits) - i - 1)
        for i, d in enumerate(digits)
        if d != "9"
    ]
    return f"^ *0*({'|'.join([longer, *same_length])}) *$"


@dataclass(frozen=True)
class WebFirewallArgs:
    scope: Literal["CLOUDFRONT", "REGIONAL"]
    # The app's MAX_REQUEST_BODY_BYTES (app_limits.request_body_limit): bodies up to it pass.
    max_request_body_bytes: int
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
        if self.max_request_body_bytes < 1:
            raise ValueError("max_request_body_bytes must be at least 1")
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


def _overrides(
    group: str, max_request_body_bytes: int
) -> list[aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs] | None:
    """SizeRestrictions_BODY (bodies over 8 KB) only counts when the app accepts more."""
    if group != COMMON_RULE_SET or max_request_body_bytes <= 8192:
        return None
    return [
        aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
            name=BODY_SIZE_RULE,
            action_to_use=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
                count=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
            ),
        )
    ]


def _body_limit_rule(max_request_body_bytes: int) -> aws.wafv2.WebAclRuleArgs:
    """413 for a declared body (Content-Length) over the app's limit, before any inspection."""
    return aws.wafv2.WebAclRuleArgs(
        name="request-body-over-app-limit",
        priority=0,
        action=aws.wafv2.WebAclRuleActionArgs(
            block=aws.wafv2.WebAclRuleActionBlockArgs(
                custom_response=aws.wafv2.WebAclRuleActionBlockCustomResponseArgs(
                    response_code=PAYLOAD_TOO_LARGE
                )
            )
        ),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            regex_match_statement=aws.wafv2.WebAclRuleStatementRegexMatchStatementArgs(
                regex_string=content_length_over(max_request_body_bytes),
                field_to_match=aws.wafv2.WebAclRuleStatementRegexMatchStatementFieldToMatchArgs(
                    single_header=aws.wafv2.WebAclRuleStatementRegexMatchStatementFieldToMatchSingleHeaderArgs(
                        name="content-length"
                    )
                ),
                text_transformations=[
                    aws.wafv2.WebAclRuleStatementRegexMatchStatementTextTransformationArgs(
                        priority=0, type="NONE"
                    )
                ],
            )
        ),
        visibility_config=_rule_visibility("request-body-over-app-limit"),
    )


class WebFirewall(pulumi.ComponentResource):
    arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: WebFirewallArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:waf:WebFirewall", name, None, opts)
        edge = args.scope == "CLOUDFRONT"
        rules = [_body_limit_rule(args.max_request_body_bytes)]
        rules += [
            aws.wafv2.WebAclRuleArgs(
                name=group,
                priority=priority,
                override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
                    # The groups' own actions apply (no override to count-only).
                    none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()  # type: ignore[no-untyped-call]
                ),
                statement=aws.wafv2.WebAclRuleStatementArgs(
                    managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                        vendor_name="AWS",
                        name=group,
                        rule_action_overrides=_overrides(group, args.max_request_body_bytes),
                    )
                ),
                visibility_config=_rule_visibility(group),
            )
            for priority, group in enumerate(args.managed_rule_groups, start=len(rules))
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
