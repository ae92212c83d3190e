"""Breakages for the baseline policies (tenfold_infra/policies/baseline.py)."""

from __future__ import annotations

from breakage import Breakage, Resources, add, first


def unencrypted_database(rs: Resources) -> None:
    first(rs, "aws:rds/instance:Instance", primary=True)["storageEncrypted"] = False


def plaintext_cache(rs: Resources) -> None:
    first(rs, "aws:elasticache/replicationGroup:ReplicationGroup")["transitEncryptionEnabled"] = (
        False
    )


def public_database(rs: Resources) -> None:
    first(rs, "aws:rds/instance:Instance", primary=True)["publiclyAccessible"] = True


def database_open_to_internet(rs: Resources) -> None:
    add(
        rs,
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "broken-db-world",
        ipProtocol="tcp",
        fromPort=5432,
        toPort=5432,
        cidrIpv4="0.0.0.0/0",
    )


def single_az_prod_database(rs: Resources) -> None:
    first(rs, "aws:rds/instance:Instance", primary=True)["multiAz"] = False


def old_tls_listener(rs: Resources) -> None:
    add(
        rs,
        "aws:lb/listener:Listener",
        "broken-https",
        port=443,
        protocol="HTTPS",
        sslPolicy="ELBSecurityPolicy-2016-08",
    )


def uncompressed_cdn(rs: Resources) -> None:
    first(rs, "aws:cloudfront/distribution:Distribution")["defaultCacheBehavior"]["compress"] = (
        False
    )


def alb_keeps_invalid_headers(rs: Resources) -> None:
    first(rs, "aws:lb/loadBalancer:LoadBalancer")["dropInvalidHeaderFields"] = False


def log_group_kept_forever(rs: Resources) -> None:
    del first(rs, "aws:cloudwatch/logGroup:LogGroup")["retentionInDays"]


BREAKAGES = [
    Breakage("encryption-at-rest", unencrypted_database),
    Breakage("encryption-in-transit", plaintext_cache),
    Breakage("no-public-stateful", public_database),
    Breakage("security-group-least-privilege", database_open_to_internet),
    Breakage("production-resilience", single_az_prod_database),
    Breakage("tls-1-2-or-newer", old_tls_listener),
    Breakage("cdn-compression-and-http2", uncompressed_cdn),
    Breakage("alb-drops-invalid-headers", alb_keeps_invalid_headers),
    Breakage("log-retention", log_group_kept_forever),
]
