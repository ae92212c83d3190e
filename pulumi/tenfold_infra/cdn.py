"""CloudFront: the API through the ALB as its Cache-Control says, static assets from S3 with OAC.

The ALB is reached through a VPC origin (an internal ALB, traffic stays on AWS's network)
when there is no domain, or over HTTPS to origin.<domain> when there is one. The API
behaviour keys its cache on Authorization (CloudFront forwards that header only when it is
in the cache key) and never forwards the viewer's Host, which the ALB's certificate does not
cover; CloudFront-Viewer-Address carries the client's address to the app.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi_aws as aws

import pulumi

from .buckets import private_bucket
from .certificates import validated_certificate
from .load_balancer import ORIGIN_VERIFY_HEADER
from .names import fit
from .static_assets import STATIC_DIRECTORY, StaticAssets, StaticAssetsArgs
from .waf import CLOUDFRONT_REGION, WebFirewall, WebFirewallArgs

# AWS managed policies (stable ids, the same in every account).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
VIEWER_TLS_POLICY = "TLSv1.2_2021"
STATIC_PATH = "/static/*"
# The header (`IP:port`) the app reads the client address from (CLIENT_IP_HEADER).
CLIENT_IP_HEADER = "CloudFront-Viewer-Address"
# Viewer headers the API reads, sent to the ALB but kept out of the cache key. Never Host (the
# ALB's certificate covers origin.<domain> only), never Authorization (CloudFront refuses it
# in an origin request policy: the API cache policy keys on it instead). At most 10, the
# default CloudFront quota of headers per origin request policy.
API_ORIGIN_HEADERS = (
    "Accept",
    "Accept-Language",
    "Origin",
    "User-Agent",
    "If-None-Match",
    "X-Request-ID",
    "X-Read-After-LSN",
    "Access-Control-Request-Method",
    "Access-Control-Request-Headers",
    CLIENT_IP_HEADER,
)
# Cookies the API reads: the read-your-writes position (app/db/routing.py).
API_ORIGIN_COOKIES = ("read_after_lsn",)
# CloudFront policy and OAC names (CloudFront developer guide, quotas: 128 and 64 characters).
POLICY_NAME_LIMIT = 128
OAC_NAME_LIMIT = 64
# Origin ids inside the distribution.
ALB_ORIGIN, STATIC_ORIGIN = "alb", "static"


@dataclass(frozen=True)
class CdnArgs:
    alb_domain_name: pulumi.Input[str]
    origin_verify_secret: pulumi.Input[str]
    # The app's MAX_REQUEST_BODY_BYTES: the edge web ACL lets bodies up to it through.
    max_request_body_bytes: int
    # The internal ALB CloudFront reaches through a VPC origin (no domain). None: the ALB is
    # internet-facing with a certificate for alb_domain_name, reached over HTTPS only.
    vpc_origin_alb_arn: pulumi.Input[str] | None = None
    domain_name: str | None = None
    hosted_zone_id: str | None = None
    # Edge locations in North America and Europe; PriceClass_All adds the rest of the world.
    price_class: str = "PriceClass_100"
    retain_static_bucket: bool = True
    # The service's static files (relative to the infra project), uploaded to the bucket.
    static_directory: str | None = STATIC_DIRECTORY
    # Requests per client IP per 5 minutes before the edge web ACL blocks it.
    waf_rate_limit_per_5_minutes: int = 2000
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.vpc_origin_alb_arn is None and self.domain_name is None:
            raise ValueError(
                "without a domain (no certificate on the ALB), CloudFront must reach the ALB "
                "through a VPC origin: pass vpc_origin_alb_arn of an internal ALB"
            )


class Cdn(pulumi.ComponentResource):
    domain_name: pulumi.Output[str]
    distribution_id: pulumi.Output[str]
    static_bucket_name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self, name: str, args: CdnArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:cdn:Cdn", name, None, opts)
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)
        self._tags = dict(args.tags)

        # CloudFront-scope resources (the viewer certificate, the web ACL) live in us-east-1.
        us_east_1 = aws.Provider(f"{name}-us-east-1", region=CLOUDFRONT_REGION, opts=self._child)
        firewall = WebFirewall(
            name,
            WebFirewallArgs(
                scope="CLOUDFRONT",
                max_request_body_bytes=args.max_request_body_bytes,
                rate_limit_per_5_minutes=args.waf_rate_limit_per_5_minutes,
                tags=self._tags,
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=us_east_1),
        )
        bucket = private_bucket(
            f"{name}-static",
            force_destroy=not args.retain_static_bucket,
            tags=self._tags,
            opts=self._child,
        )
        oac = aws.cloudfront.OriginAccessControl(
            f"{name}-static",
            name=fit(f"{name}-static", OAC_NAME_LIMIT),
            description="CloudFront reads the static bucket",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=self._child,
        )
        # CloudFront only accepts certificates from us-east-1, whatever the stack's region.
        certificate_arn = (
            validated_certificate(
                f"{name}-cdn-cert",
                args.domain_name,
                args.hosted_zone_id,
                parent=self,
                tags=self._tags,
                provider=us_east_1,
            )
            if args.domain_name is not None
            else None
        )
        distribution = self._distribution(bucket, oac, certificate_arn, firewall.arn)
        self._static_bucket_policy(bucket, distribution)
        if args.static_directory is not None:
            StaticAssets(
                name,
                StaticAssetsArgs(bucket_id=bucket.id, directory=args.static_directory),
                opts=self._child,
            )
        if args.domain_name is not None and args.hosted_zone_id is not None:
            self._alias_records(distribution, args.domain_name, args.hosted_zone_id)

        self.domain_name = distribution.domain_name
        self.distribution_id = distribution.id
        self.static_bucket_name = bucket.bucket
        self.url = (
            pulumi.Output.from_input(f"https://{args.domain_name}")
            if args.domain_name
            else pulumi.Output.concat("https://", distribution.domain_name)
        )
        self.register_outputs(
            {
                "domain_name": self.domain_name,
                "url": self.url,
                "static_bucket_name": self.static_bucket_name,
            }
        )

    def _api_cache_policy(self) -> aws.cloudfront.CachePolicy:
        """The origin's Cache-Control decides (default TTL 0), and Authorization is in the key,
        so each caller has its own entries and the header reaches the ALB (CloudFront drops it
        otherwise)."""
        return aws.cloudfront.CachePolicy(
            f"{self._name}-api",
            name=fit(f"{self._name}-api", POLICY_NAME_LIMIT),
            comment="API: Cache-Control from the service, Authorization in the key",
            min_ttl=0,
            default_ttl=0,
            max_ttl=31_536_000,
            parameters_in_cache_key_and_forwarded_to_origin=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginArgs(
                enable_accept_encoding_brotli=True,
                enable_accept_encoding_gzip=True,
                headers_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigArgs(
                    header_behavior="whitelist",
                    headers=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginHeadersConfigHeadersArgs(
                        items=["Authorization"]
                    ),
                ),
                cookies_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginCookiesConfigArgs(
                    cookie_behavior="none"
                ),
                query_strings_config=aws.cloudfront.CachePolicyParametersInCacheKeyAndForwardedToOriginQueryStringsConfigArgs(
                    query_string_behavior="all"
                ),
            ),
            opts=self._child,
        )

    def _api_origin_request_policy(self) -> aws.cloudfront.OriginRequestPolicy:
        return aws.cloudfront.OriginRequestPolicy(
            f"{self._name}-api",
            name=fit(f"{self._name}-api", POLICY_NAME_LIMIT),
            comment="API: the viewer headers the service reads and the client address, never Host",
            headers_config=aws.cloudfront.OriginRequestPolicyHeadersConfigArgs(
                header_behavior="whitelist",
                headers=aws.cloudfront.OriginRequestPolicyHeadersConfigHeadersArgs(
                    items=list(API_ORIGIN_HEADERS)
                ),
            ),
            cookies_config=aws.cloudfront.OriginRequestPolicyCookiesConfigArgs(
                cookie_behavior="whitelist",
                cookies=aws.cloudfront.OriginRequestPolicyCookiesConfigCookiesArgs(
                    items=list(API_ORIGIN_COOKIES)
                ),
            ),
            query_strings_config=aws.cloudfront.OriginRequestPolicyQueryStringsConfigArgs(
                query_string_behavior="all"
            ),
            opts=self._child,
        )

    def _alb_origin(self) -> aws.cloudfront.DistributionOriginArgs:
        """Through a VPC origin to an internal ALB, or over HTTPS to origin.<domain>."""
        args = self._args
        custom_origin: aws.cloudfront.DistributionOriginCustomOriginConfigArgs | None = None
        private_origin: aws.cloudfront.DistributionOriginVpcOriginConfigArgs | None = None
        if args.vpc_origin_alb_arn is not None:
            # Inside the VPC: plain HTTP to the internal ALB never crosses the internet.
            vpc_origin = aws.cloudfront.VpcOrigin(
                f"{self._name}-alb",
                vpc_origin_endpoint_config=aws.cloudfront.VpcOriginVpcOriginEndpointConfigArgs(
                    name=fit(f"{self._name}-alb", OAC_NAME_LIMIT),
                    arn=args.vpc_origin_alb_arn,
                    http_port=80,
                    https_port=443,
                    origin_protocol_policy="http-only",
                    origin_ssl_protocols=aws.cloudfront.VpcOriginVpcOriginEndpointConfigOriginSslProtocolsArgs(
                        items=["TLSv1.2"], quantity=1
                    ),
                ),
                tags=self._tags,
                opts=self._child,
            )
            private_origin = aws.cloudfront.DistributionOriginVpcOriginConfigArgs(
                vpc_origin_id=vpc_origin.id, origin_keepalive_timeout=60, origin_read_timeout=30
            )
        else:
            custom_origin = aws.cloudfront.DistributionOriginCustomOriginConfigArgs(
                http_port=80,
                https_port=443,
                origin_protocol_policy="https-only",
                origin_ssl_protocols=["TLSv1.2"],
                origin_keepalive_timeout=60,
                origin_read_timeout=30,
            )
        return aws.cloudfront.DistributionOriginArgs(
            origin_id=ALB_ORIGIN,
            domain_name=args.alb_domain_name,
            custom_headers=[
                aws.cloudfront.DistributionOriginCustomHeaderArgs(
                    name=ORIGIN_VERIFY_HEADER, value=args.origin_verify_secret
                )
            ],
            custom_origin_config=custom_origin,
            vpc_origin_config=private_origin,
        )

    def _static_origin(
        self, bucket: aws.s3.Bucket, oac: aws.cloudfront.OriginAccessControl
    ) -> aws.cloudfront.DistributionOriginArgs:
        return aws.cloudfront.DistributionOriginArgs(
            origin_id=STATIC_ORIGIN,
            domain_name=bucket.bucket_regional_domain_name,
            origin_access_control_id=oac.id,
        )

    def _distribution(
        self,
        bucket: aws.s3.Bucket,
        oac: aws.cloudfront.OriginAccessControl,
        certificate_arn: pulumi.Output[str] | None,
        web_acl_arn: pulumi.Input[str],
    ) -> aws.cloudfront.Distribution:
        """The API by default (its own Cache-Control decides), /static/* from S3, cached long."""
        api_cache, api_origin_request = self._api_cache_policy(), self._api_origin_request_policy()
        origins = [self._alb_origin(), self._static_origin(bucket, oac)]
        args = self._args
        return aws.cloudfront.Distribution(
            f"{self._name}-distribution",
            enabled=True,
            comment=f"{self._name}: API and static assets",
            http_version="http2and3",
            is_ipv6_enabled=True,
            price_class=args.price_class,
            aliases=[args.domain_name] if args.domain_name is not None else [],
            origins=origins,
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id=ALB_ORIGIN,
                viewer_protocol_policy="redirect-to-https",
                compress=True,
                allowed_methods=["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
                cached_methods=["GET", "HEAD"],
                # The API decides: Cache-Control from the service, private/no-store by default.
                cache_policy_id=api_cache.id,
                origin_request_policy_id=api_origin_request.id,
                response_headers_policy_id=SECURITY_HEADERS,
            ),
            ordered_cache_behaviors=[
                aws.cloudfront.DistributionOrderedCacheBehaviorArgs(
                    path_pattern=STATIC_PATH,
                    target_origin_id=STATIC_ORIGIN,
                    viewer_protocol_policy="redirect-to-https",
                    compress=True,
                    allowed_methods=["GET", "HEAD"],
                    cached_methods=["GET", "HEAD"],
                    cache_policy_id=CACHING_OPTIMIZED,
                    response_headers_policy_id=SECURITY_HEADERS,
                )
            ],
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(
                    restriction_type="none"
                )
            ),
            viewer_certificate=_viewer_certificate(certificate_arn),
            web_acl_id=web_acl_arn,
            tags=self._tags,
            opts=self._child,
        )

    def _static_bucket_policy(
        self, bucket: aws.s3.Bucket, distribution: aws.cloudfront.Distribution
    ) -> None:
        """This distribution, and nothing else, reads the static bucket."""
        aws.s3.BucketPolicy(
            f"{self._name}-static",
            bucket=bucket.id,
            policy=pulumi.Output.all(bucket.arn, distribution.arn).apply(
                lambda a: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "CloudFrontReadsStatic",
                                "Effect": "Allow",
                                "Action": "s3:GetObject",
                                "Principal": {"Service": "cloudfront.amazonaws.com"},
                                "Resource": f"{a[0]}/*",
                                "Condition": {"StringEquals": {"AWS:SourceArn": a[1]}},
                            }
                        ],
                    }
                )
            ),
            opts=self._child,
        )

    def _alias_records(
        self, distribution: aws.cloudfront.Distribution, domain_name: str, hosted_zone_id: str
    ) -> None:
        for record_type in ("A", "AAAA"):
            aws.route53.Record(
                f"{self._name}-alias-{record_type.lower()}",
                zone_id=hosted_zone_id,
                name=domain_name,
                type=record_type,
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=distribution.domain_name,
                        zone_id=distribution.hosted_zone_id,
                        evaluate_target_health=False,
                    )
                ],
                opts=self._child,
            )


def _viewer_certificate(
    certificate_arn: pulumi.Output[str] | None,
) -> aws.cloudfront.DistributionViewerCertificateArgs:
    if certificate_arn is None:
        # The *.cloudfront.net certificate: AWS pins its security policy to TLSv1 and ignores
        # any other minimum_protocol_version (a perpetual diff), so none is set.
        return aws.cloudfront.DistributionViewerCertificateArgs(cloudfront_default_certificate=True)
    return aws.cloudfront.DistributionViewerCertificateArgs(
        acm_certificate_arn=certificate_arn,
        ssl_support_method="sni-only",
        minimum_protocol_version=VIEWER_TLS_POLICY,
    )
