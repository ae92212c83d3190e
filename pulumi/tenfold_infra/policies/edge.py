"""Load balancer, CDN, WAF and security groups: what AWS refuses, or silently breaks, at the edge.

Policies see Pulumi inputs. A reference to another resource of the stack (a cache policy id,
a security group id) resolves through the mocks' `<logical name>-id`; a reference that cannot
be resolved (an unknown value under a real `pulumi preview`) is skipped, never guessed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from .model import DISTRIBUTION, LOAD_BALANCERS, SG, SG_INGRESS_RULE, Policy, Resource, of_types

SG_EGRESS_RULE = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
LEGACY_SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
PREFIX_LIST = "aws:ec2/managedPrefixList:ManagedPrefixList"
CACHE_POLICY = "aws:cloudfront/cachePolicy:CachePolicy"
ORIGIN_REQUEST_POLICY = "aws:cloudfront/originRequestPolicy:OriginRequestPolicy"
VPC_ORIGIN = "aws:cloudfront/vpcOrigin:VpcOrigin"
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
WEB_ACL_ASSOCIATION = "aws:wafv2/webAclAssociation:WebAclAssociation"
INTERNET_GATEWAY = "aws:ec2/internetGateway:InternetGateway"
CERTIFICATE = "aws:acm/certificate:Certificate"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_OBJECTS = ("aws:s3/bucketObjectv2:BucketObjectv2", "aws:s3/bucketObject:BucketObject")

# CloudFront developer guide, "Restrict access with VPC origins", section "Supported AWS
# Regions for VPC origins": the Regions that offer VPC origins, and the zones (by AZ ID) that
# do not in the Regions listed with exceptions.
VPC_ORIGINS_DOC = (
    "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/"
    "private-content-vpc-origins.html#vpc-origins-supported-regions"
)
VPC_ORIGIN_REGIONS = frozenset(
    {
        "us-east-2",
        "us-east-1",
        "us-west-1",
        "us-west-2",
        "af-south-1",
        "ap-east-1",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-southeast-7",
        "ap-southeast-5",
        "ap-east-2",
        "ca-central-1",
        "ca-west-1",
        "eu-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-south-1",
        "eu-west-3",
        "eu-south-2",
        "eu-north-1",
        "eu-central-2",
        "il-central-1",
        "me-south-1",
        "me-central-1",
        "sa-east-1",
        "mx-central-1",
    }
)
VPC_ORIGIN_UNSUPPORTED_ZONE_IDS = frozenset({"use1-az3", "usw1-az2", "apne1-az3", "cac1-az3"})
# An Availability Zone's ID (use1-az1); Local Zones (use1-bos1-az1) and Wavelength Zones
# (use1-wl1-bos-wlz1) have longer ones. https://docs.aws.amazon.com/ram/latest/userguide/working-with-az-ids.html
STANDARD_ZONE_ID = re.compile(r"[a-z]+[0-9]+-az[0-9]+")
ZONE_ID_TAG = "AvailabilityZoneId"
SUBNET = "aws:ec2/subnet:Subnet"

# https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html#vpc-limits-security-groups
SG_RULES_PER_DIRECTION = 60
# https://docs.aws.amazon.com/vpc/latest/userguide/working-with-aws-managed-prefix-lists.html
# com.amazonaws.global.cloudfront.origin-facing has 55 max entries, the largest AWS-managed
# list a tenfold stack references: an AWS-managed list (not in the stack) is weighted so.
AWS_MANAGED_PREFIX_LIST_WEIGHT = 55

# AWS managed cache policies: the headers each puts in the cache key (and so forwards), and
# whether caching is disabled. https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html
MANAGED_CACHE_POLICIES: dict[str, tuple[frozenset[str], bool]] = {
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": (frozenset(), True),  # CachingDisabled
    "658327ea-f89d-4fab-a63d-7e88639e58f6": (frozenset(), False),  # CachingOptimized
    "b2884449-e4de-46a7-ac36-70bc7f1ddd6d": (frozenset(), False),  # ...ForUncompressedObjects
    "83da9c7e-98b4-4e11-a168-04f0df8e2c65": (  # UseOriginCacheControlHeaders
        frozenset(
            {"host", "origin", "x-http-method-override", "x-http-method", "x-method-override"}
        ),
        False,
    ),
    "4cc15a8a-d715-48a4-82b8-cc0b614638fe": (  # UseOriginCacheControlHeaders-QueryStrings
        frozenset(
            {"host", "origin", "x-http-method-override", "x-http-method", "x-method-override"}
        ),
        False,
    ),
    "2e54312d-136d-493c-8eb9-b001f22f67d2": (  # Amplify
        frozenset({"authorization", "cloudfront-viewer-country", "host"}),
        False,
    ),
}
# AWS managed origin request policies: (forwards every viewer header, forwards Host).
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-origin-request-policies.html
MANAGED_ORIGIN_REQUEST_POLICIES: dict[str, tuple[bool, bool]] = {
    "216adef6-5c7f-47e4-b989-5492eafa07d3": (True, True),  # AllViewer
    "33f36d7e-f396-46d9-90e0-52428a34d9dc": (True, True),  # AllViewerAndCloudFrontHeaders-2022-06
    "b689b0a8-53d0-40ab-baf2-68738e2966ac": (True, False),  # AllViewerExceptHostHeader
    "59781a5b-3903-41f3-afcb-af62929ccde1": (False, False),  # CORS-CustomOrigin
    "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf": (False, False),  # CORS-S3Origin
    "acba4595-bd28-49b8-b9fe-13317c0390fa": (False, False),  # UserAgentRefererHeaders
}
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html
# The default quota (adjustable through Service Quotas; the stack assumes the default).
HEADERS_PER_POLICY = 10
PLAIN_HTTP = ("http-only", "match-viewer")


def _by_id(resources: Iterable[Resource], *types: str) -> dict[str, Resource]:
    """Resources by the id the mocks give them (`<logical name>-id`), and by any explicit id."""
    found: dict[str, Resource] = {}
    for r in of_types(resources, *types):
        found[f"{r.name}-id"] = r
        if isinstance(r.props.get("id"), str):
            found[r.props["id"]] = r
    return found


def _lower(items: Iterable[Any]) -> set[str]:
    return {str(i).lower() for i in items}


def _items(config: Mapping[str, Any] | None, key: str) -> list[Any]:
    return list(((config or {}).get(key) or {}).get("items") or [])


def _behaviours(distribution: Resource) -> list[Mapping[str, Any]]:
    default = distribution.props.get("defaultCacheBehavior") or {}
    return [default, *(distribution.props.get("orderedCacheBehaviors") or [])]


def _origin(distribution: Resource, behaviour: Mapping[str, Any]) -> Mapping[str, Any]:
    for origin in distribution.props.get("origins") or []:
        if origin.get("originId") == behaviour.get("targetOriginId"):
            return origin  # type: ignore[no-any-return]
    return {}


def _targets_api(origin: Mapping[str, Any]) -> bool:
    """The ALB: a custom origin or a VPC origin (S3 origins are static assets)."""
    return bool(origin.get("customOriginConfig") or origin.get("vpcOriginConfig"))


class _Forwarding:
    """What a behaviour sends to its origin, from its cache and origin request policies."""

    def __init__(self, behaviour: Mapping[str, Any], resources: list[Resource]) -> None:
        self.known = True
        self.cache_key: set[str] = set()
        self.caching_disabled = False
        self.all_viewer = False
        self.origin_headers: set[str] = set()
        self.host = False
        cache_id = behaviour.get("cachePolicyId")
        own_cache = _by_id(resources, CACHE_POLICY)
        if cache_id in MANAGED_CACHE_POLICIES:
            self.cache_key, self.caching_disabled = (
                set(MANAGED_CACHE_POLICIES[cache_id][0]),
                MANAGED_CACHE_POLICIES[cache_id][1],
            )
        elif cache_id in own_cache:
            props = own_cache[cache_id].props
            params = props.get("parametersInCacheKeyAndForwardedToOrigin") or {}
            headers = params.get("headersConfig") or {}
            if headers.get("headerBehavior") == "whitelist":
                self.cache_key = _lower(_items(headers, "headers"))
            self.caching_disabled = int(props.get("maxTtl", 1) or 0) == 0
        elif cache_id is None:
            # Legacy forwardedValues: headers listed are forwarded and keyed, "*" is all.
            forwarded = _lower((behaviour.get("forwardedValues") or {}).get("headers") or [])
            self.cache_key = forwarded
            self.all_viewer = "*" in forwarded
            self.host = self.all_viewer
        else:
            self.known = False
        request_id = behaviour.get("originRequestPolicyId")
        own_request = _by_id(resources, ORIGIN_REQUEST_POLICY)
        if request_id in MANAGED_ORIGIN_REQUEST_POLICIES:
            self.all_viewer, host = MANAGED_ORIGIN_REQUEST_POLICIES[request_id]
            self.host = self.host or host
        elif request_id in own_request:
            headers = own_request[request_id].props.get("headersConfig") or {}
            behaviour_kind = headers.get("headerBehavior")
            listed = _lower(_items(headers, "headers"))
            if behaviour_kind in ("allViewer", "allViewerAndWhitelistCloudFront"):
                self.all_viewer, self.host = True, True
            elif behaviour_kind == "allExcept":
                self.all_viewer, self.host = True, "host" not in listed
            elif behaviour_kind == "whitelist":
                self.origin_headers = listed
                self.host = self.host or "host" in listed
        elif request_id is not None:
            self.known = False
        self.host = self.host or "host" in self.cache_key

    @property
    def authorization(self) -> bool:
        return "authorization" in self.cache_key or (self.caching_disabled and self.all_viewer)


def security_group_rule_budget(resources: list[Resource]) -> list[str]:
    """At most 60 inbound and 60 outbound rules per group, for IPv4 and for IPv6 each.

    A rule that references a prefix list counts as the list's max entries, in both address
    families; a rule that references a security group counts once in each. Over the quota,
    AWS refuses the rule: `RulesPerSecurityGroupLimitExceeded`.
    https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html#vpc-limits-security-groups
    https://docs.aws.amazon.com/vpc/latest/userguide/managed-prefix-lists.html (prefix list weight)
    """
    lists = _by_id(resources, PREFIX_LIST)

    def weight(prefix_list_id: str) -> int:
        own = lists.get(prefix_list_id)
        return int(own.props.get("maxEntries") or 0) if own else AWS_MANAGED_PREFIX_LIST_WEIGHT

    used: dict[tuple[str, str, str], int] = defaultdict(int)  # (group, direction, family)

    def count(group: str, direction: str, rule: Mapping[str, Any]) -> None:
        v4 = len([c for c in [rule.get("cidrIpv4")] if c]) + len(rule.get("cidrBlocks") or [])
        v6 = len([c for c in [rule.get("cidrIpv6")] if c]) + len(rule.get("ipv6CidrBlocks") or [])
        prefix_ids = [p for p in [rule.get("prefixListId")] if p] + list(
            rule.get("prefixListIds") or []
        )
        references = len([g for g in [rule.get("referencedSecurityGroupId")] if g])
        references += len(rule.get("securityGroups") or []) + bool(rule.get("self"))
        references += len([g for g in [rule.get("sourceSecurityGroupId")] if g])
        both = sum(weight(p) for p in prefix_ids) + references
        used[(group, direction, "IPv4")] += v4 + both
        used[(group, direction, "IPv6")] += v6 + both

    for r in of_types(resources, SG_INGRESS_RULE, SG_EGRESS_RULE):
        direction = "inbound" if r.type == SG_INGRESS_RULE else "outbound"
        count(str(r.props.get("securityGroupId")), direction, r.props)
    for r in of_types(resources, LEGACY_SG_RULE):
        direction = "inbound" if r.props.get("type") == "ingress" else "outbound"
        count(str(r.props.get("securityGroupId")), direction, r.props)
    for r in of_types(resources, SG):
        for direction, key in (("inbound", "ingress"), ("outbound", "egress")):
            for rule in r.props.get(key) or []:
                count(f"{r.name}-id", direction, rule)
    return [
        f"security group {group.removesuffix('-id')}: {n} {direction} {family} rules, over the "
        f"quota of {SG_RULES_PER_DIRECTION} (a prefix list counts as its max entries; AWS: "
        "RulesPerSecurityGroupLimitExceeded); reference a prefix list once, not once per port"
        for (group, direction, family), n in sorted(used.items())
        if n > SG_RULES_PER_DIRECTION
    ]


def cdn_api_forwards_authorization(resources: list[Resource]) -> list[str]:
    """A behaviour for the API must deliver `Authorization`, or logged-in calls get 401.

    CloudFront forwards Authorization only when the cache policy puts it in the cache key, or
    when caching is disabled and the origin request policy forwards all viewer headers
    (AllViewer); an origin request policy cannot list it.
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/controlling-the-cache-key.html#cache-policy-authorization-header
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/RequestAndResponseBehaviorCustomOrigin.html#request-custom-headers-behavior
    """
    problems = []
    for d in of_types(resources, DISTRIBUTION):
        for behaviour in _behaviours(d):
            if not _targets_api(_origin(d, behaviour)):
                continue
            forwarding = _Forwarding(behaviour, resources)
            if forwarding.known and not forwarding.authorization:
                problems.append(
                    f"{d.name}: behaviour {behaviour.get('pathPattern', 'default')} reaches the API "
                    "without Authorization (the origin answers 401); use a cache policy with "
                    "Authorization in its headers, or CachingDisabled with the AllViewer origin "
                    "request policy"
                )
    return problems


def _covers(certificate_names: Iterable[str], domain: str) -> bool:
    for name in certificate_names:
        if name == domain or (
            name.startswith("*.")
            and domain.count(".") == name.count(".")
            and domain.endswith(name[1:])
        ):
            return True
    return False


def cdn_host_on_origin_certificate(resources: list[Resource]) -> list[str]:
    """A behaviour to an HTTPS origin forwards Host only if the origin's certificate covers it.

    CloudFront checks the origin certificate against the forwarded Host (the viewer's domain)
    and answers 502 when it does not match.
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-502-bad-gateway.html#ssl-certificate-expired
    """
    certificates = [
        {str(c.props.get("domainName")), *map(str, c.props.get("subjectAlternativeNames") or [])}
        for c in of_types(resources, CERTIFICATE)
    ]
    problems = []
    for d in of_types(resources, DISTRIBUTION):
        aliases = [str(a) for a in d.props.get("aliases") or []] or ["<the *.cloudfront.net name>"]
        for behaviour in _behaviours(d):
            origin = _origin(d, behaviour)
            custom = origin.get("customOriginConfig") or {}
            if custom.get("originProtocolPolicy") not in ("https-only", "match-viewer"):
                continue
            if not _Forwarding(behaviour, resources).host:
                continue
            origin_domain = str(origin.get("domainName"))
            on_certificate = [c for c in certificates if _covers(c, origin_domain)]
            if not any(all(_covers(c, a) for a in aliases) for c in on_certificate):
                problems.append(
                    f"{d.name}: behaviour {behaviour.get('pathPattern', 'default')} forwards the "
                    f"viewer's Host ({', '.join(aliases)}) to https origin {origin_domain}, whose "
                    "certificate does not cover it (CloudFront answers 502); forward no Host "
                    "(an origin request policy without it, e.g. AllViewerExceptHostHeader)"
                )
    return problems


def no_plaintext_origin_over_internet(resources: list[Resource]) -> list[str]:
    """A custom origin is reached across the internet: it must use HTTPS only.

    Only a VPC origin keeps CloudFront's traffic on AWS's network; with `http-only` (or
    `match-viewer` for HTTP viewers) tokens, passwords and the origin-verify secret travel
    in clear text to an internet-facing load balancer.
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-https-cloudfront-to-custom-origin.html
    """
    problems = []
    for d in of_types(resources, DISTRIBUTION):
        for origin in d.props.get("origins") or []:
            policy = (origin.get("customOriginConfig") or {}).get("originProtocolPolicy")
            if policy in PLAIN_HTTP and not origin.get("vpcOriginConfig"):
                problems.append(
                    f"{d.name}: origin {origin.get('originId')} ({origin.get('domainName')}) uses "
                    f"{policy} over the internet; use https-only with a certificate on the origin, "
                    "or a VPC origin to an internal load balancer"
                )
    return problems


def vpc_origin_internal_load_balancer(resources: list[Resource]) -> list[str]:
    """A VPC origin serves a load balancer in private subnets: it must be internal.

    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-vpc-origins.html
    (an internet-facing ALB behind a VPC origin also stays reachable around CloudFront).
    """
    balancers = {r.name: r for r in of_types(resources, *LOAD_BALANCERS)}
    problems = []
    for v in of_types(resources, VPC_ORIGIN):
        arn = str((v.props.get("vpcOriginEndpointConfig") or {}).get("arn", ""))
        target = balancers.get(arn.rsplit(":", 1)[-1]) or next(
            (b for b in balancers.values() if b.props.get("arn") == arn), None
        )
        if target is not None and target.props.get("internal") is not True:
            problems.append(
                f"{v.name}: targets load balancer {target.name}, which is internet-facing; "
                "make it internal (internal=True) in private subnets"
            )
    return problems


def vpc_origin_needs_internet_gateway(resources: list[Resource]) -> list[str]:
    """CloudFront VPC origins need an internet gateway attached to the VPC (no route to it).

    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-vpc-origins.html#vpc-origin-prerequisites
    Without it the VPC origin stays unreachable and CloudFront answers 502/504.
    """
    if of_types(resources, VPC_ORIGIN) and not of_types(resources, INTERNET_GATEWAY):
        return [
            "the stack has a CloudFront VPC origin but its VPC has no internet gateway; attach "
            "one (the private subnets need no route to it)"
        ]
    return []


def availability_zones_by_id(resources: list[Resource]) -> list[str]:
    """Subnets sit in standard Availability Zones chosen by AZ ID, each tagged with its ID;
    with a CloudFront VPC origin, only in Regions and zones that offer VPC origins.

    A zone name maps to a different physical zone in each account, so only the AZ ID says
    whether a subnet is in use1-az3, where CloudFront VPC origins are not supported; Local and
    Wavelength Zones lack the services and the resilience the stack needs.
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-vpc-origins.html#vpc-origins-supported-regions
    https://docs.aws.amazon.com/ram/latest/userguide/working-with-az-ids.html
    """
    problems = []
    vpc_origin = bool(of_types(resources, VPC_ORIGIN))
    regions = set()
    for subnet in of_types(resources, SUBNET):
        tags = subnet.props.get("tags") or {}
        zone_id, zone = tags.get(ZONE_ID_TAG), subnet.props.get("availabilityZone")
        if isinstance(zone, str) and zone:
            regions.add(zone.rstrip("abcdefghijklmnopqrstuvwxyz"))
        if not isinstance(zone_id, str) or not zone_id:
            problems.append(
                f"{subnet.name}: no {ZONE_ID_TAG} tag; choose zones by AZ ID "
                "(tenfold_infra.network.choose_zones) and tag each subnet with its ID"
            )
        elif not STANDARD_ZONE_ID.fullmatch(zone_id):
            problems.append(
                f"{subnet.name}: zone {zone_id} is not a standard Availability Zone (a Local "
                "or Wavelength Zone); keep to zones with opt-in-not-required and zone type "
                "availability-zone"
            )
        elif vpc_origin and zone_id in VPC_ORIGIN_UNSUPPORTED_ZONE_IDS:
            problems.append(
                f"{subnet.name}: zone {zone_id} ({zone}) does not support CloudFront VPC "
                f"origins; leave it out by AZ ID (see {VPC_ORIGINS_DOC})"
            )
    if vpc_origin:
        problems += [
            f"the stack has a CloudFront VPC origin in {region}, a Region without VPC origins: "
            "set domainName (CloudFront then reaches the ALB over HTTPS) or cdn: false "
            f"(see {VPC_ORIGINS_DOC})"
            for region in sorted(regions - VPC_ORIGIN_REGIONS)
        ]
    return problems


def cloudfront_default_certificate_tls(resources: list[Resource]) -> list[str]:
    """With the *.cloudfront.net certificate, AWS sets the security policy to TLSv1 itself.

    Any other minimumProtocolVersion is ignored, so `pulumi up` shows a diff forever and a
    check passes on a value AWS does not apply.
    https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html
    """
    return [
        f"{d.name}: minimumProtocolVersion {cert.get('minimumProtocolVersion')!r} is ignored "
        "with cloudfrontDefaultCertificate (AWS pins TLSv1); remove it, or use an ACM certificate"
        for d in of_types(resources, DISTRIBUTION)
        for cert in [d.props.get("viewerCertificate") or {}]
        if cert.get("cloudfrontDefaultCertificate") is True
        and cert.get("minimumProtocolVersion") not in (None, "TLSv1")
    ]


def waf_on_public_entry(resources: list[Resource]) -> list[str]:
    """The public entry point has a WAF web ACL: the distribution, or else each public ALB.

    https://docs.aws.amazon.com/waf/latest/developerguide/waf-chapter.html
    """
    distributions = of_types(resources, DISTRIBUTION)
    if distributions:
        return [
            f"{d.name}: no webAclId; attach the edge (CLOUDFRONT-scope) web ACL"
            for d in distributions
            if not d.props.get("webAclId")
        ]
    protected = {str(a.props.get("resourceArn")) for a in of_types(resources, WEB_ACL_ASSOCIATION)}
    return [
        f"{b.name}: internet-facing load balancer without a web ACL association; associate a "
        "REGIONAL web ACL (tenfold_infra.waf.WebFirewall)"
        for b in of_types(resources, *LOAD_BALANCERS)
        if b.props.get("internal") is not True
        and not any(arn.endswith(f":{b.name}") or arn == b.props.get("arn") for arn in protected)
    ]


def waf_cloudfront_scope_in_us_east_1(resources: list[Resource]) -> list[str]:
    """A CLOUDFRONT-scope web ACL must be created in us-east-1.

    https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateWebACL.html (Scope: "To
    work with CloudFront, you must also specify the Region US East (N. Virginia)"); elsewhere
    AWS answers WAFInvalidParameterException (field SCOPE_VALUE).
    """
    return [
        f"{a.name}: scope CLOUDFRONT in region {a.props.get('region')!r}; create it with a "
        "us-east-1 provider and region='us-east-1'"
        for a in of_types(resources, WEB_ACL)
        if a.props.get("scope") == "CLOUDFRONT" and a.props.get("region") != "us-east-1"
    ]


BODY_LIMIT_VARIABLE = "MAX_REQUEST_BODY_BYTES"
COMMON_RULE_SET = "AWSManagedRulesCommonRuleSet"
BODY_SIZE_RULE = "SizeRestrictions_BODY"
# SizeRestrictions_BODY's threshold: https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html
CORE_RULE_SET_BODY_BYTES = 8192
# Far above any body a service takes: where to stop looking for a rule's threshold.
LARGEST_BODY = 2**40


def _app_body_limit(resources: list[Resource]) -> int | None:
    """MAX_REQUEST_BODY_BYTES of the load-balanced container (the app)."""
    from .platform import _container_definitions, _load_balanced_containers

    app = _load_balanced_containers(resources)
    for task in of_types(resources, TASK_DEFINITION):
        for container in _container_definitions(task):
            if container.get("name") not in app:
                continue
            for variable in container.get("environment") or []:
                if variable.get("name") == BODY_LIMIT_VARIABLE:
                    try:
                        return int(variable.get("value"))
                    except (TypeError, ValueError):
                        return None
    return None


def _refuses(pattern: str, size: int) -> bool:
    try:
        return re.search(pattern, str(size)) is not None
    except re.error:
        return False


def _first_refused(pattern: str) -> int | None:
    """The smallest Content-Length the rule matches, if it matches every larger one."""
    if not _refuses(pattern, LARGEST_BODY):
        return None
    low, high = 0, LARGEST_BODY
    while low < high:
        middle = (low + high) // 2
        if _refuses(pattern, middle):
            high = middle
        else:
            low = middle + 1
    return low


def _content_length_limits(acl: Resource) -> list[int]:
    """Thresholds of the web ACL's blocking rules on the Content-Length header."""
    limits = []
    for rule in acl.props.get("rules") or []:
        if "block" not in (rule.get("action") or {}):
            continue
        regex = (rule.get("statement") or {}).get("regexMatchStatement") or {}
        header = ((regex.get("fieldToMatch") or {}).get("singleHeader") or {}).get("name", "")
        if str(header).lower() == "content-length" and regex.get("regexString"):
            first = _first_refused(str(regex["regexString"]))
            if first is not None:
                limits.append(first)
    return limits


def _counts_body_size_rule(rule: Mapping[str, Any]) -> bool:
    group = (rule.get("statement") or {}).get("managedRuleGroupStatement") or {}
    if group.get("name") != COMMON_RULE_SET:
        return True
    return any(
        o.get("name") == BODY_SIZE_RULE and "count" in (o.get("actionToUse") or {})
        for o in group.get("ruleActionOverrides") or []
    ) or "count" in (rule.get("overrideAction") or {})


def waf_body_limit_matches_app(resources: list[Resource]) -> list[str]:
    """The web ACL lets through every request body the app accepts, and refuses bigger ones.

    The core rule set's SizeRestrictions_BODY blocks bodies over 8 KB; the app accepts up to
    MAX_REQUEST_BODY_BYTES, so that rule must only count. WAF inspects at most 16 KB of a body
    behind CloudFront (8 KB behind an ALB) and cannot measure a larger one, so the app's limit
    is enforced on the declared Content-Length, which must be refused from the app's limit + 1.
    https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-baseline.html
    https://docs.aws.amazon.com/waf/latest/developerguide/web-acl-setting-body-inspection-limit.html
    """
    acls = of_types(resources, WEB_ACL)
    if not acls:
        return []
    limit = _app_body_limit(resources)
    problems = []
    if limit is None:
        problems.append(
            f"the app container does not set {BODY_LIMIT_VARIABLE}: the stack passes the app's "
            "limit to it, so that the web ACL and the app agree"
        )
    accepts = f"up to {limit}" if limit else "up to its MAX_REQUEST_BODY_BYTES (1 MiB by default)"
    for acl in acls:
        if limit is None or limit > CORE_RULE_SET_BODY_BYTES:
            problems += [
                f"{acl.name}: {COMMON_RULE_SET} blocks bodies over {CORE_RULE_SET_BODY_BYTES} "
                f"bytes with 403 ({BODY_SIZE_RULE}), the app accepts {accepts}: override "
                f"{BODY_SIZE_RULE} to count"
                for rule in acl.props.get("rules") or []
                if not _counts_body_size_rule(rule)
            ]
        if limit is None:
            continue
        limits = _content_length_limits(acl)
        if not limits:
            problems.append(
                f"{acl.name}: no rule refuses a Content-Length over the app's {limit} bytes at "
                "the edge (a regex match on the content-length header, action block)"
            )
        problems += [
            f"{acl.name}: refuses request bodies from {first} bytes, but the app accepts "
            f"{limit} ({BODY_LIMIT_VARIABLE}): refuse from {limit + 1} exactly"
            for first in limits
            if first != limit + 1
        ]
    return problems


def cdn_policy_header_quotas(resources: list[Resource]) -> list[str]:
    """Cache and origin request policies list at most 10 headers; Authorization only in a cache policy.

    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html
    (TooManyHeadersInCachePolicy / TooManyHeadersInOriginRequestPolicy) and
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/controlling-origin-requests.html
    (an origin request policy that lists Authorization: InvalidArgument).
    """
    problems = []
    for p in of_types(resources, CACHE_POLICY):
        params = p.props.get("parametersInCacheKeyAndForwardedToOrigin") or {}
        headers = _items(params.get("headersConfig"), "headers")
        if len(headers) > HEADERS_PER_POLICY:
            problems.append(
                f"{p.name}: {len(headers)} headers in the cache key, over CloudFront's "
                f"{HEADERS_PER_POLICY} (default quota); key on fewer headers or raise the quota"
            )
    for p in of_types(resources, ORIGIN_REQUEST_POLICY):
        headers = _items(p.props.get("headersConfig"), "headers")
        if len(headers) > HEADERS_PER_POLICY:
            problems.append(
                f"{p.name}: {len(headers)} headers, over CloudFront's {HEADERS_PER_POLICY} per "
                "origin request policy (default quota); forward fewer or raise the quota"
            )
        if "authorization" in _lower(headers):
            problems.append(
                f"{p.name}: lists Authorization, which CloudFront refuses in an origin request "
                "policy; put it in the cache policy's headers instead"
            )
    return problems


def cdn_static_assets_uploaded(resources: list[Resource]) -> list[str]:
    """The bucket behind a CDN's S3 origin holds objects, or every asset answers 403.

    Through OAC CloudFront has s3:GetObject only, and S3 answers a missing key with 403
    AccessDenied (not 404) to a caller without s3:ListBucket.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
    """
    objects = {str(o.props.get("bucket")) for o in of_types(resources, *BUCKET_OBJECTS)}
    problems = []
    for d in of_types(resources, DISTRIBUTION):
        for origin in d.props.get("origins") or []:
            if not origin.get("originAccessControlId"):
                continue
            domain = str(origin.get("domainName"))
            bucket = next(
                (b for b in of_types(resources, BUCKET) if domain.startswith(f"{b.name}.")), None
            )
            if bucket is not None and f"{bucket.name}-id" not in objects:
                problems.append(
                    f"{d.name}: origin {origin.get('originId')} serves bucket {bucket.name}, which "
                    "the stack never fills; upload the static files (tenfold_infra.static_assets)"
                )
    return problems


EDGE: tuple[Policy, ...] = (
    Policy(
        "security-group-rule-budget",
        "Every security group stays within 60 rules per direction, prefix lists weighted by max entries",
        security_group_rule_budget,
    ),
    Policy(
        "cdn-api-forwards-authorization",
        "CloudFront behaviours to the API deliver the Authorization header",
        cdn_api_forwards_authorization,
    ),
    Policy(
        "cdn-host-on-origin-certificate",
        "No behaviour forwards a Host the HTTPS origin's certificate does not cover",
        cdn_host_on_origin_certificate,
    ),
    Policy(
        "no-plaintext-origin-over-internet",
        "CloudFront reaches custom origins over HTTPS only; plain HTTP only inside a VPC origin",
        no_plaintext_origin_over_internet,
    ),
    Policy(
        "vpc-origin-internal-load-balancer",
        "A CloudFront VPC origin targets an internal load balancer",
        vpc_origin_internal_load_balancer,
    ),
    Policy(
        "vpc-origin-needs-internet-gateway",
        "The VPC of a CloudFront VPC origin has an internet gateway",
        vpc_origin_needs_internet_gateway,
    ),
    Policy(
        "availability-zones-by-id",
        "Subnets sit in standard zones chosen by AZ ID; with a VPC origin, only where CloudFront offers it",
        availability_zones_by_id,
    ),
    Policy(
        "cloudfront-default-certificate-tls",
        "No minimumProtocolVersion that AWS ignores with the default CloudFront certificate",
        cloudfront_default_certificate_tls,
    ),
    Policy(
        "waf-on-public-entry",
        "The public entry point (distribution, or an internet-facing ALB) has a WAF web ACL",
        waf_on_public_entry,
    ),
    Policy(
        "waf-cloudfront-scope-in-us-east-1",
        "CLOUDFRONT-scope web ACLs are created in us-east-1",
        waf_cloudfront_scope_in_us_east_1,
    ),
    Policy(
        "waf-body-limit-matches-app",
        "The web ACL passes every request body the app accepts and refuses larger declared ones",
        waf_body_limit_matches_app,
    ),
    Policy(
        "cdn-policy-header-quotas",
        "Cache and origin request policies stay within CloudFront's header rules",
        cdn_policy_header_quotas,
    ),
    Policy(
        "cdn-static-assets-uploaded",
        "The CDN's static bucket is filled by the stack",
        cdn_static_assets_uploaded,
    ),
)
