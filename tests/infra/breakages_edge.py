"""Breakages for the edge policies (tenfold_infra/policies/edge.py) and the name-length limits."""

from __future__ import annotations

import copy
from typing import Any

from breakage import Breakage, Resources, first

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
# AWS managed policies the original stack used.
USE_ORIGIN_CACHE_CONTROL_HEADERS_QUERY_STRINGS = "4cc15a8a-d715-48a4-82b8-cc0b614638fe"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"


def distribution(rs: Resources) -> dict[str, Any]:
    return first(rs, DISTRIBUTION)


def prefix_list_per_port(rs: Resources) -> None:
    """The original bug: CloudFront's prefix list referenced once for 80 and again for 443."""
    (rule,) = [r for r in rs if r["type"] == INGRESS and r["inputs"].get("prefixListId")]
    twin = copy.deepcopy(rule)
    twin["name"] += "-443"
    twin["inputs"]["fromPort"] = twin["inputs"]["toPort"] = 443
    rs.append(twin)


def api_behind_managed_cache_policy(rs: Resources) -> None:
    """The original bug: UseOriginCacheControlHeaders-QueryStrings drops Authorization."""
    distribution(rs)["defaultCacheBehavior"]["cachePolicyId"] = (
        USE_ORIGIN_CACHE_CONTROL_HEADERS_QUERY_STRINGS
    )


def viewer_host_to_origin(rs: Resources) -> None:
    """AllViewer forwards the viewer's Host, which the origin.<domain> certificate lacks."""
    distribution(rs)["defaultCacheBehavior"]["originRequestPolicyId"] = ALL_VIEWER


def plain_http_to_public_alb(rs: Resources) -> None:
    origin = next(o for o in distribution(rs)["origins"] if o.get("customOriginConfig"))
    origin["customOriginConfig"]["originProtocolPolicy"] = "http-only"


def vpc_origin_to_public_alb(rs: Resources) -> None:
    first(rs, "aws:lb/loadBalancer:LoadBalancer")["internal"] = False


def vpc_without_internet_gateway(rs: Resources) -> None:
    rs[:] = [r for r in rs if r["type"] != "aws:ec2/internetGateway:InternetGateway"]


def tls_minimum_on_default_certificate(rs: Resources) -> None:
    """The original perpetual diff: a minimum AWS ignores with *.cloudfront.net."""
    distribution(rs)["viewerCertificate"]["minimumProtocolVersion"] = "TLSv1.2_2021"


def distribution_without_web_acl(rs: Resources) -> None:
    del distribution(rs)["webAclId"]


def public_alb_without_web_acl(rs: Resources) -> None:
    rs[:] = [r for r in rs if r["type"] != "aws:wafv2/webAclAssociation:WebAclAssociation"]


def edge_web_acl_in_stack_region(rs: Resources) -> None:
    first(rs, "aws:wafv2/webAcl:WebAcl")["region"] = "eu-west-1"


def authorization_in_origin_request_policy(rs: Resources) -> None:
    headers = first(rs, "aws:cloudfront/originRequestPolicy:OriginRequestPolicy")["headersConfig"]
    headers["headers"]["items"][0] = "Authorization"


def static_bucket_left_empty(rs: Resources) -> None:
    rs[:] = [r for r in rs if r["type"] != "aws:s3/bucketObjectv2:BucketObjectv2"]


def auto_named_target_group(rs: Resources) -> None:
    """The original bug: a long slug plus Pulumi's 8 auto-name characters exceeds 32."""
    del first(rs, "aws:lb/targetGroup:TargetGroup")["name"]


LONG_SLUG = "long-slug-redis-3-replicas"
DOMAIN_CDN = "domain-cdn-5-replicas"

SUBNET = "aws:ec2/subnet:Subnet"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"


def private_subnet_zone_id(rs: Resources, zone_id: str | None) -> None:
    subnet = next(r for r in rs if r["type"] == SUBNET and r["name"].endswith("-private-1"))
    tags = subnet["inputs"]["tags"]
    if zone_id is None:
        del tags["AvailabilityZoneId"]
    else:
        tags["AvailabilityZoneId"] = zone_id


def vpc_origin_subnet_in_use1_az3(rs: Resources) -> None:
    """The original bug: a name picked the zone, and in this account it was use1-az3."""
    private_subnet_zone_id(rs, "use1-az3")


def subnet_in_a_local_zone(rs: Resources) -> None:
    private_subnet_zone_id(rs, "use1-bos1-az1")


def subnet_zone_picked_by_name(rs: Resources) -> None:
    private_subnet_zone_id(rs, None)


def _rules(rs: Resources) -> list[dict[str, Any]]:
    return first(rs, WEB_ACL)["rules"]  # type: ignore[no-any-return]


def core_rule_set_blocks_bodies_over_8_kb(rs: Resources) -> None:
    """The original bug: SizeRestrictions_BODY answered 403 to any body over 8 KB."""
    for rule in _rules(rs):
        group = rule["statement"].get("managedRuleGroupStatement") or {}
        group.pop("ruleActionOverrides", None)


def edge_refuses_from_16_kb(rs: Resources) -> None:
    from tenfold_infra.waf import content_length_over

    for rule in _rules(rs):
        regex = rule["statement"].get("regexMatchStatement")
        if regex:
            regex["regexString"] = content_length_over(16 * 1024)


def no_rule_on_content_length(rs: Resources) -> None:
    first(rs, WEB_ACL)["rules"] = [
        r for r in _rules(rs) if "regexMatchStatement" not in r["statement"]
    ]


BREAKAGES = [
    Breakage("security-group-rule-budget", prefix_list_per_port),
    Breakage("cdn-api-forwards-authorization", api_behind_managed_cache_policy),
    Breakage("cdn-host-on-origin-certificate", viewer_host_to_origin, DOMAIN_CDN),
    Breakage("no-plaintext-origin-over-internet", plain_http_to_public_alb, DOMAIN_CDN),
    Breakage("vpc-origin-internal-load-balancer", vpc_origin_to_public_alb),
    Breakage("vpc-origin-needs-internet-gateway", vpc_without_internet_gateway),
    Breakage("cloudfront-default-certificate-tls", tls_minimum_on_default_certificate),
    Breakage("waf-on-public-entry", distribution_without_web_acl),
    Breakage("waf-cloudfront-scope-in-us-east-1", edge_web_acl_in_stack_region),
    Breakage("availability-zones-by-id", vpc_origin_subnet_in_use1_az3),
    Breakage("waf-body-limit-matches-app", core_rule_set_blocks_bodies_over_8_kb),
    Breakage("cdn-policy-header-quotas", authorization_in_origin_request_policy),
    Breakage("cdn-static-assets-uploaded", static_bucket_left_empty),
    Breakage("name-length-limits", auto_named_target_group, LONG_SLUG),
]
# Second faces of a rule, run by test_edge_policies.py (test_policies wants one per policy).
MORE_BREAKAGES = [
    Breakage("waf-on-public-entry", public_alb_without_web_acl, "lean-redis-no-cdn"),
    Breakage("availability-zones-by-id", subnet_in_a_local_zone, "lean-redis-no-cdn"),
    Breakage("availability-zones-by-id", subnet_zone_picked_by_name),
    Breakage("waf-body-limit-matches-app", edge_refuses_from_16_kb),
    Breakage("waf-body-limit-matches-app", no_rule_on_content_length, "lean-redis-no-cdn"),
    Breakage(
        "waf-body-limit-matches-app", core_rule_set_blocks_bodies_over_8_kb, "lean-redis-no-cdn"
    ),
]
