"""CloudFront: the API through the ALB as its Cache-Control says, static assets from S3 with OAC."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi_aws as aws

import pulumi

from .load_balancer import ORIGIN_VERIFY_HEADER, validate_certificate

# AWS managed policies (stable ids, the same in every account).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
USE_ORIGIN_CACHE_CONTROL_HEADERS_QUERY_STRINGS = "4cc15a8a-d715-48a4-82b8-cc0b614638fe"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
VIEWER_TLS_POLICY = "TLSv1.2_2021"
STATIC_PATH = "/static/*"


@dataclass(frozen=True)
class CdnArgs:
    alb_domain_name: pulumi.Input[str]
    origin_verify_secret: pulumi.Input[str]
    # The ALB has a certificate (a domain is set): CloudFront talks HTTPS to it.
    alb_https: bool = False
    domain_name: str | None = None
    hosted_zone_id: str | None = None
    # Edge locations in North America and Europe; PriceClass_All adds the rest of the world.
    price_class: str = "PriceClass_100"
    retain_static_bucket: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)


class Cdn(pulumi.ComponentResource):
    domain_name: pulumi.Output[str]
    distribution_id: pulumi.Output[str]
    static_bucket_name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self, name: str, args: CdnArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:cdn:Cdn", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)

        bucket = aws.s3.Bucket(
            f"{name}-static", force_destroy=not args.retain_static_bucket, tags=tags, opts=child
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-static",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-static",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-static",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                )
            ],
            opts=child,
        )
        oac = aws.cloudfront.OriginAccessControl(
            f"{name}-static",
            description="CloudFront reads the static bucket",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
            opts=child,
        )

        certificate_arn: pulumi.Output[str] | None = None
        aliases: list[str] = []
        if args.domain_name is not None:
            if args.hosted_zone_id is None:
                raise ValueError(
                    "a domain_name needs its hosted_zone_id to validate the certificate"
                )
            # CloudFront only accepts certificates from us-east-1, whatever the stack's region.
            us_east_1 = aws.Provider(f"{name}-us-east-1", region="us-east-1", opts=child)
            certificate = aws.acm.Certificate(
                f"{name}-cdn-cert",
                domain_name=args.domain_name,
                validation_method="DNS",
                key_algorithm="EC_prime256v1",
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, provider=us_east_1),
            )
            certificate_arn = validate_certificate(
                f"{name}-cdn-cert", certificate, args.hosted_zone_id, self, provider=us_east_1
            ).certificate_arn
            aliases = [args.domain_name]

        alb_origin, s3_origin = "alb", "static"
        distribution = aws.cloudfront.Distribution(
            f"{name}-distribution",
            enabled=True,
            comment=f"{name}: API and static assets",
            http_version="http2and3",
            is_ipv6_enabled=True,
            price_class=args.price_class,
            aliases=aliases,
            origins=[
                aws.cloudfront.DistributionOriginArgs(
                    origin_id=alb_origin,
                    domain_name=args.alb_domain_name,
                    custom_headers=[
                        aws.cloudfront.DistributionOriginCustomHeaderArgs(
                            name=ORIGIN_VERIFY_HEADER, value=args.origin_verify_secret
                        )
                    ],
                    custom_origin_config=aws.cloudfront.DistributionOriginCustomOriginConfigArgs(
                        http_port=80,
                        https_port=443,
                        origin_protocol_policy="https-only" if args.alb_https else "http-only",
                        origin_ssl_protocols=["TLSv1.2"],
                        origin_keepalive_timeout=60,
                        origin_read_timeout=30,
                    ),
                ),
                aws.cloudfront.DistributionOriginArgs(
                    origin_id=s3_origin,
                    domain_name=bucket.bucket_regional_domain_name,
                    origin_access_control_id=oac.id,
                ),
            ],
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                target_origin_id=alb_origin,
                viewer_protocol_policy="redirect-to-https",
                compress=True,
                allowed_methods=["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
                cached_methods=["GET", "HEAD"],
                # The API decides: Cache-Control from the service, private/no-store by default.
                cache_policy_id=USE_ORIGIN_CACHE_CONTROL_HEADERS_QUERY_STRINGS,
                origin_request_policy_id=ALL_VIEWER_EXCEPT_HOST_HEADER,
                response_headers_policy_id=SECURITY_HEADERS,
            ),
            ordered_cache_behaviors=[
                aws.cloudfront.DistributionOrderedCacheBehaviorArgs(
                    path_pattern=STATIC_PATH,
                    target_origin_id=s3_origin,
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
            viewer_certificate=aws.cloudfront.DistributionViewerCertificateArgs(
                acm_certificate_arn=certificate_arn,
                ssl_support_method="sni-only",
                minimum_protocol_version=VIEWER_TLS_POLICY,
            )
            if certificate_arn is not None
            else aws.cloudfront.DistributionViewerCertificateArgs(
                # The *.cloudfront.net certificate: AWS pins its policy, the value is recorded for policy checks.
                cloudfront_default_certificate=True,
                minimum_protocol_version=VIEWER_TLS_POLICY,
            ),
            tags=tags,
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-static",
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
            opts=child,
        )
        if args.domain_name is not None and args.hosted_zone_id is not None:
            for record_type in ("A", "AAAA"):
                aws.route53.Record(
                    f"{name}-alias-{record_type.lower()}",
                    zone_id=args.hosted_zone_id,
                    name=args.domain_name,
                    type=record_type,
                    aliases=[
                        aws.route53.RecordAliasArgs(
                            name=distribution.domain_name,
                            zone_id=distribution.hosted_zone_id,
                            evaluate_target_health=False,
                        )
                    ],
                    opts=child,
                )

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
