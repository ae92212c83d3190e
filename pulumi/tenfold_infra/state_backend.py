"""A self-managed Pulumi backend: an S3 bucket for state and a KMS key for stack secrets.

For teams that do not use Pulumi Cloud: `pulumi login s3://<bucket>` keeps every stack's state
(checkpoints, history, locks) in the bucket, and `pulumi stack init --secrets-provider
awskms://alias/<name>?region=<region>` encrypts the stack's secrets with the key. The state is
the only record of what Pulumi manages, so the bucket is versioned (a bad write can be
undone), encrypted with the key, private, TLS-only, and protected from `pulumi destroy`; old
versions expire after `noncurrent_version_days`. See "Managing state & backend options" at
https://www.pulumi.com/docs/iac/concepts/state-and-backends/ and S3's "Security best
practices": https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi_aws as aws

import pulumi

from .buckets import private_bucket

# The tag the bootstrap policies use to find the state bucket.
PURPOSE_TAG = "pulumi-state"


@dataclass(frozen=True)
class StateBackendArgs:
    region: str
    noncurrent_version_days: int = 90
    # KMS waits this long before deleting a scheduled key (7 to 30 days).
    key_deletion_window_days: int = 30
    # Refuse `pulumi destroy` of the bootstrap while the state lives here.
    protect: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)


class StateBackend(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    backend_url: pulumi.Output[str]
    secrets_provider: pulumi.Output[str]

    def __init__(
        self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:state_backend:StateBackend", name, None, opts)
        self._child = pulumi.ResourceOptions(parent=self)
        self._kept = pulumi.ResourceOptions(parent=self, protect=args.protect)
        self._args = args
        self._tags = {**args.tags, "Purpose": PURPOSE_TAG}
        self._state = f"{name}-state"

        key = self._key(name)
        alias = aws.kms.Alias(
            self._state, name=f"alias/{self._state}", target_key_id=key.arn, opts=self._child
        )
        bucket = private_bucket(
            self._state,
            force_destroy=False,
            kms_key_arn=key.arn,
            tags=self._tags,
            opts=self._child,
            bucket_opts=self._kept,
        )
        self._versioning(bucket)
        self._expire_old_versions(bucket)
        self._tls_only(bucket)

        self.bucket_name = bucket.bucket
        self.key_arn = key.arn
        self.backend_url = bucket.bucket.apply(lambda b: f"s3://{b}")
        self.secrets_provider = alias.name.apply(lambda a: f"awskms://{a}?region={args.region}")
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "key_arn": self.key_arn,
                "backend_url": self.backend_url,
                "secrets_provider": self.secrets_provider,
            }
        )

    def _key(self, name: str) -> aws.kms.Key:
        """Encrypts the state and the stack secrets; rotated yearly, kept like the bucket."""
        return aws.kms.Key(
            self._state,
            description=f"Pulumi state and stack secrets of {name}",
            enable_key_rotation=True,
            deletion_window_in_days=self._args.key_deletion_window_days,
            tags=self._tags,
            opts=self._kept,
        )

    def _versioning(self, bucket: aws.s3.Bucket) -> None:
        """Every write keeps the previous checkpoint, so a bad one can be undone."""
        aws.s3.BucketVersioning(
            self._state,
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=self._child,
        )

    def _expire_old_versions(self, bucket: aws.s3.Bucket) -> None:
        """Old checkpoints go after `noncurrent_version_days`; abandoned uploads after a week."""
        aws.s3.BucketLifecycleConfiguration(
            self._state,
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-old-state-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=self._args.noncurrent_version_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
            ],
            opts=self._child,
        )

    def _tls_only(self, bucket: aws.s3.Bucket) -> None:
        """State travels over TLS only."""
        aws.s3.BucketPolicy(
            self._state,
            bucket=bucket.id,
            policy=bucket.arn.apply(tls_only_policy),
            opts=self._child,
        )


def tls_only_policy(bucket_arn: str) -> str:
    """A bucket policy denying every request to the bucket or its objects without TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )
