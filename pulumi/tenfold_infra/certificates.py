"""ACM certificates validated by DNS in the service's Route 53 zone (the ALB's and CloudFront's)."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi_aws as aws

import pulumi

# ECDSA P-256: smaller handshakes than RSA 2048 at the same strength; every client we serve speaks it.
KEY_ALGORITHM = "EC_prime256v1"


def validated_certificate(
    name: str,
    domain_name: str,
    hosted_zone_id: str | None,
    *,
    parent: pulumi.Resource,
    tags: Mapping[str, str],
    provider: aws.Provider | None = None,
) -> pulumi.Output[str]:
    """A certificate for domain_name, DNS-validated; returns its ARN once AWS has issued it.

    `provider` places the certificate in another region (CloudFront takes us-east-1 only);
    the validation record is global, as Route 53 is.
    """
    if hosted_zone_id is None:
        raise ValueError("a domain_name needs its hosted_zone_id to validate the certificate")
    certificate = aws.acm.Certificate(
        name,
        domain_name=domain_name,
        validation_method="DNS",
        key_algorithm=KEY_ALGORITHM,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent, provider=provider),
    )
    return _validation(name, certificate, hosted_zone_id, parent, provider)


def _validation(
    name: str,
    certificate: aws.acm.Certificate,
    hosted_zone_id: str,
    parent: pulumi.Resource,
    provider: aws.Provider | None = None,
) -> pulumi.Output[str]:
    """The DNS record ACM asks for, and the wait for issuance; returns the ARN to depend on."""
    option = certificate.domain_validation_options[0]
    record = aws.route53.Record(
        f"{name}-validation",
        zone_id=hosted_zone_id,
        name=option.resource_record_name,
        type=option.resource_record_type,
        records=[option.resource_record_value],
        ttl=300,
        allow_overwrite=True,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    validation = aws.acm.CertificateValidation(
        f"{name}-validation",
        certificate_arn=certificate.arn,
        validation_record_fqdns=[record.fqdn],
        opts=pulumi.ResourceOptions(parent=parent, provider=provider),
    )
    return validation.certificate_arn
