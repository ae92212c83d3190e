"""The baseline checks: encryption, exposure, least privilege, resilience, TLS, CDN, logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .model import (
    ALB_TLS_POLICIES,
    BUCKET_PUBLIC_ACCESS_BLOCK,
    CACHE_GROUP,
    DISTRIBUTION,
    ECS_SERVICE,
    LEGACY_SG_RULE,
    LISTENERS,
    LOAD_BALANCERS,
    LOG_GROUP,
    MQ_BROKER,
    PUBLIC_PORTS,
    RDS_INSTANCE,
    RDS_PARAMETER_GROUP,
    SG,
    SG_INGRESS_RULE,
    STATEFUL_PORTS,
    WORLD,
    Policy,
    Resource,
    is_primary,
    of_types,
)


def encryption_at_rest(resources: list[Resource]) -> list[str]:
    problems = [
        f"{r.name}: storageEncrypted must be true"
        for r in of_types(resources, RDS_INSTANCE)
        if is_primary(r) and r.props.get("storageEncrypted") is not True
    ]
    problems += [
        f"{r.name}: atRestEncryptionEnabled must be true"
        for r in of_types(resources, CACHE_GROUP)
        if r.props.get("atRestEncryptionEnabled") is not True
    ]
    problems += [
        f"{r.name}: encryptionOptions must not be turned off"
        for r in of_types(resources, MQ_BROKER)
        if (r.props.get("encryptionOptions") or {}).get("useAwsOwnedKey") is False
        and not (r.props.get("encryptionOptions") or {}).get("kmsKeyId")
    ]
    return problems


def encryption_in_transit(resources: list[Resource]) -> list[str]:
    problems = [
        f"{r.name}: transitEncryptionEnabled must be true and transitEncryptionMode 'required'"
        for r in of_types(resources, CACHE_GROUP)
        if r.props.get("transitEncryptionEnabled") is not True
        or r.props.get("transitEncryptionMode", "required") != "required"
    ]
    for group in of_types(resources, RDS_PARAMETER_GROUP):
        if str(group.props.get("family", "")).startswith("postgres"):
            values = {
                p.get("name"): str(p.get("value")) for p in group.props.get("parameters") or []
            }
            if values.get("rds.force_ssl") != "1":
                problems.append(
                    f"{group.name}: parameter rds.force_ssl must be 1 (refuse plaintext connections)"
                )
    problems += [
        f"{r.name}: uses the default parameter group, which does not force TLS"
        for r in of_types(resources, RDS_INSTANCE)
        if is_primary(r) and not r.props.get("parameterGroupName")
    ]
    problems += [
        f"{r.name}: engineType must be RabbitMQ (TLS-only amqps)"
        for r in of_types(resources, MQ_BROKER)
        if str(r.props.get("engineType", "")).lower() != "rabbitmq"
    ]
    return problems


def no_public_stateful(resources: list[Resource]) -> list[str]:
    problems = [
        f"{r.name}: publiclyAccessible must be false"
        for r in of_types(resources, RDS_INSTANCE, MQ_BROKER)
        if r.props.get("publiclyAccessible") is True
    ]
    problems += [
        f"{r.name}: tasks must not get public IPs"
        for r in of_types(resources, ECS_SERVICE)
        if (r.props.get("networkConfiguration") or {}).get("assignPublicIp") is True
    ]
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    problems += [
        f"{r.name}: every public access block flag must be true"
        for r in of_types(resources, BUCKET_PUBLIC_ACCESS_BLOCK)
        if not all(r.props.get(f) is True for f in flags)
    ]
    return problems


def _ports(rule: Mapping[str, Any]) -> tuple[int, int, str]:
    protocol = str(rule.get("ipProtocol") or rule.get("protocol") or "")
    return int(rule.get("fromPort") or 0), int(rule.get("toPort") or 0), protocol


def _ingress_problem(where: str, rule: Mapping[str, Any], sources: set[str]) -> str | None:
    low, high, protocol = _ports(rule)
    if protocol in ("-1", "all"):
        return f"{where}: ingress allows all protocols and ports"
    if sources & WORLD and not (low == high and low in PUBLIC_PORTS):
        return (
            f"{where}: ingress from the internet on ports {low}-{high} (only 80/443 may be public)"
        )
    if any(low <= port <= high for port in STATEFUL_PORTS) and (
        sources or rule.get("prefixListId")
    ):
        return f"{where}: ports {low}-{high} reach a data store from an address range; allow a security group instead"
    if high - low > 0:
        return f"{where}: ingress opens a port range {low}-{high}; open single ports"
    return None


def security_group_least_privilege(resources: list[Resource]) -> list[str]:
    problems: list[str] = []
    for r in of_types(resources, SG_INGRESS_RULE):
        sources = {s for s in (r.props.get("cidrIpv4"), r.props.get("cidrIpv6")) if s}
        if (problem := _ingress_problem(r.name, r.props, sources)) is not None:
            problems.append(problem)
    for r in of_types(resources, LEGACY_SG_RULE):
        if r.props.get("type") == "ingress":
            sources = set(r.props.get("cidrBlocks") or []) | set(
                r.props.get("ipv6CidrBlocks") or []
            )
            if (problem := _ingress_problem(r.name, r.props, sources)) is not None:
                problems.append(problem)
    for r in of_types(resources, SG):
        for rule in r.props.get("ingress") or []:
            sources = set(rule.get("cidrBlocks") or []) | set(rule.get("ipv6CidrBlocks") or [])
            if (problem := _ingress_problem(r.name, rule, sources & WORLD)) is not None:
                problems.append(problem)
    return problems


def production_resilience(resources: list[Resource]) -> list[str]:
    problems: list[str] = []
    for r in of_types(resources, RDS_INSTANCE):
        if not is_primary(r):
            continue
        retention = int(r.props.get("backupRetentionPeriod") or 0)
        if retention < 1:
            problems.append(f"{r.name}: backupRetentionPeriod must be at least 1 day")
        if r.prod:
            if r.props.get("deletionProtection") is not True:
                problems.append(f"{r.name}: deletionProtection must be true in prod")
            if retention < 7:
                problems.append(
                    f"{r.name}: backupRetentionPeriod must be at least 7 days in prod, got {retention}"
                )
            if r.props.get("multiAz") is not True:
                problems.append(f"{r.name}: multiAz must be true in prod")
    for r in of_types(resources, CACHE_GROUP):
        if r.prod and not (
            int(r.props.get("numCacheClusters") or 1) >= 2
            and r.props.get("automaticFailoverEnabled")
            and r.props.get("multiAzEnabled")
        ):
            problems.append(
                f"{r.name}: prod needs 2+ nodes with automaticFailoverEnabled and multiAzEnabled"
            )
    for r in of_types(resources, MQ_BROKER):
        if r.prod and r.props.get("deploymentMode") != "CLUSTER_MULTI_AZ":
            problems.append(f"{r.name}: deploymentMode must be CLUSTER_MULTI_AZ in prod")
    for r in of_types(resources, *LOAD_BALANCERS):
        if r.prod and r.props.get("enableDeletionProtection") is not True:
            problems.append(f"{r.name}: enableDeletionProtection must be true in prod")
    return problems


DEFAULT_CERTIFICATE_DOC = (
    "https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html"
)


def default_certificate_in_prod(resources: list[Resource]) -> list[str]:
    """A prod distribution on the *.cloudfront.net certificate still accepts TLS 1.0 and 1.1:
    AWS pins its security policy to TLSv1 whatever minimumProtocolVersion says.
    https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/secure-connections-supported-viewer-protocols-ciphers.html
    """
    return [
        f"{r.name}: prod serves on the default *.cloudfront.net certificate, which accepts TLS "
        "1.0 and 1.1 (AWS pins its policy to TLSv1). A domain (domainName and hostedZoneId) "
        "buys an ACM certificate with TLSv1.2_2021 (TLS 1.2+ only, modern ciphers), your own "
        "hostname that outlives the distribution, and HTTPS from CloudFront to the load balancer "
        f"(see {DEFAULT_CERTIFICATE_DOC})"
        for r in of_types(resources, DISTRIBUTION)
        if r.prod and (r.props.get("viewerCertificate") or {}).get("cloudfrontDefaultCertificate")
    ]


def tls_1_2_or_newer(resources: list[Resource]) -> list[str]:
    """ALB HTTPS listeners and CloudFront with a custom certificate refuse TLS older than 1.2.
    The default *.cloudfront.net certificate cannot (AWS pins it to TLSv1): a prod stack on it
    gets a warning that says what a domain buys (default_certificate_in_prod)."""
    problems = [
        f"{r.name}: sslPolicy {r.props.get('sslPolicy')!r} allows TLS older than 1.2"
        for r in of_types(resources, *LISTENERS)
        if r.props.get("protocol") == "HTTPS"
        and not str(r.props.get("sslPolicy", "")).startswith(ALB_TLS_POLICIES)
    ]
    for r in of_types(resources, DISTRIBUTION):
        certificate = r.props.get("viewerCertificate") or {}
        version = str(certificate.get("minimumProtocolVersion", ""))
        # The default *.cloudfront.net certificate has its policy pinned by AWS (see the edge
        # policy cloudfront-default-certificate-tls); only a custom certificate takes a minimum.
        if certificate.get("cloudfrontDefaultCertificate") is not True and not version.startswith(
            ("TLSv1.2", "TLSv1.3")
        ):
            problems.append(
                f"{r.name}: viewerCertificate.minimumProtocolVersion must be TLSv1.2_2021 or newer with a custom certificate, got {version!r}"
            )
        for origin in r.props.get("origins") or []:
            protocols = (origin.get("customOriginConfig") or {}).get("originSslProtocols")
            if protocols is not None and set(protocols) - {"TLSv1.2"}:
                problems.append(
                    f"{r.name}: origin {origin.get('originId')} allows {sorted(protocols)}; use TLSv1.2 only"
                )
    return problems


def cdn_compression_and_http2(resources: list[Resource]) -> list[str]:
    problems: list[str] = []
    for r in of_types(resources, DISTRIBUTION):
        if r.props.get("httpVersion") not in ("http2", "http2and3", "http3"):
            problems.append(
                f"{r.name}: httpVersion must be http2, http2and3 or http3, got {r.props.get('httpVersion')!r}"
            )
        behaviors = [
            r.props.get("defaultCacheBehavior") or {},
            *(r.props.get("orderedCacheBehaviors") or []),
        ]
        for behavior in behaviors:
            if behavior.get("compress") is not True:
                problems.append(
                    f"{r.name}: cache behavior {behavior.get('pathPattern', 'default')} must compress"
                )
    return problems


def alb_drops_invalid_headers(resources: list[Resource]) -> list[str]:
    return [
        f"{r.name}: dropInvalidHeaderFields must be true (request smuggling defence)"
        for r in of_types(resources, *LOAD_BALANCERS)
        if r.props.get("loadBalancerType", "application") == "application"
        and r.props.get("dropInvalidHeaderFields") is not True
    ]


def log_retention(resources: list[Resource]) -> list[str]:
    return [
        f"{r.name}: retentionInDays must be set (logs kept forever cost more every month)"
        for r in of_types(resources, LOG_GROUP)
        if not int(r.props.get("retentionInDays") or 0)
    ]


BASELINE: tuple[Policy, ...] = (
    Policy(
        "encryption-at-rest", "Database, cache and broker encrypt their storage", encryption_at_rest
    ),
    Policy(
        "encryption-in-transit",
        "Database, cache and broker refuse plaintext connections",
        encryption_in_transit,
    ),
    Policy(
        "no-public-stateful", "Nothing stateful is reachable from the internet", no_public_stateful
    ),
    Policy(
        "security-group-least-privilege",
        "Ingress opens single ports; data stores only to security groups",
        security_group_least_privilege,
    ),
    Policy(
        "production-resilience",
        "Backups always; deletion protection and Multi-AZ in prod",
        production_resilience,
    ),
    Policy(
        "tls-1-2-or-newer",
        "ALB listeners and CloudFront with a custom certificate accept TLS 1.2 or newer only; "
        "prod on the *.cloudfront.net certificate (TLS 1.0 accepted) is warned",
        tls_1_2_or_newer,
        warn=default_certificate_in_prod,
    ),
    Policy(
        "cdn-compression-and-http2",
        "CloudFront compresses and speaks HTTP/2 or newer",
        cdn_compression_and_http2,
    ),
    Policy(
        "alb-drops-invalid-headers",
        "The ALB drops invalid header fields",
        alb_drops_invalid_headers,
    ),
    Policy("log-retention", "Every log group has a retention period", log_retention),
)
