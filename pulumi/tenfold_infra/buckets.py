"""Private S3 buckets: the hardening every bucket of the stack and the bootstrap shares.

Public access blocked, server-side encryption (SSE-S3, or SSE-KMS with a bucket key), and
for buckets that only their owner writes, ACLs disabled (BucketOwnerEnforced). The name is
an AWS-generated suffix after a prefix that `names.fit` keeps within S3's limit.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi_aws as aws

import pulumi

from .names import fit

# S3 allows a bucket name of 63 characters; the provider's unique suffix of 26 after a
# bucket_prefix leaves 37 for the prefix.
BUCKET_PREFIX_LIMIT = 37


def private_bucket(
    name: str,
    *,
    force_destroy: bool,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
    kms_key_arn: pulumi.Input[str] | None = None,
    owner_enforced: bool = True,
    bucket_opts: pulumi.ResourceOptions | None = None,
) -> aws.s3.Bucket:
    """A bucket nobody outside the account reads, encrypted at rest.

    `owner_enforced=False` keeps ACLs for a bucket another service writes with them (the ALB's
    log delivery). `bucket_opts` overrides `opts` for the bucket alone (e.g. `protect`).
    """
    bucket = aws.s3.Bucket(
        name,
        bucket_prefix=fit(name, BUCKET_PREFIX_LIMIT - 1) + "-",
        force_destroy=force_destroy,
        tags=dict(tags),
        opts=bucket_opts or opts,
    )
    aws.s3.BucketPublicAccessBlock(
        name,
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    if owner_enforced:
        aws.s3.BucketOwnershipControls(
            name,
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=opts,
        )
    default = (
        aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
            sse_algorithm="aws:kms" if kms_key_arn else "AES256", kms_master_key_id=kms_key_arn
        )
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        name,
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=default,
                # One data key per bucket instead of a KMS call per object.
                bucket_key_enabled=True if kms_key_arn else None,
            )
        ],
        opts=opts,
    )
    return bucket
