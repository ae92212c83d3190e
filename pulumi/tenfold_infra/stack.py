"""One service stack: the components wired by name from a validated StackConfig."""

from __future__ import annotations

import pulumi_aws as aws

import pulumi

from .app_limits import ENVIRONMENT_VARIABLE as BODY_LIMIT_VARIABLE
from .app_limits import request_body_limit
from .broker import Broker, BrokerArgs
from .cache import Cache, CacheArgs
from .cdn import CLIENT_IP_HEADER, Cdn, CdnArgs
from .config import ConfigError, StackConfig, load_config
from .database import Database, DatabaseArgs
from .load_balancer import LoadBalancer, LoadBalancerArgs
from .monitoring import Monitoring, MonitoringArgs
from .network import (
    STANDARD_ZONE_FILTERS,
    Network,
    NetworkArgs,
    Zone,
    ZoneChoiceError,
    choose_zones,
)
from .policies.edge import VPC_ORIGIN_UNSUPPORTED_ZONE_IDS, VPC_ORIGINS_DOC
from .registry import Registry, RegistryArgs
from .secret import GeneratedSecret, GeneratedSecretArgs
from .security import APP_PORT, METRICS_PORT, SecurityGroups, SecurityGroupsArgs
from .service import Service, ServiceArgs
from .waf import WebFirewall, WebFirewallArgs

# Redis logical databases when broker=redis shares the cache cluster.
CACHE_DB, BROKER_DB = 0, 1


def build(config: StackConfig) -> dict[str, pulumi.Output[object]]:
    """Create every resource of the stack and return its outputs (exported by `run`)."""
    name = config.name
    tags = {
        "Project": config.project,
        "Stack": config.stack,
        "Tier": config.tier,
        "ManagedBy": "pulumi",
    }
    prod = config.tier == "prod"
    # CloudWatch namespace and Service dimension of the app's metrics (JobsQueueDepth): the
    # full <project>-<stack>, unlike `name`, which is cut to fit AWS name limits.
    metrics_namespace = f"{config.project}-{config.stack}"
    rabbitmq = config.broker == "rabbitmq"

    # With the CDN and no domain, CloudFront reaches an internal ALB through a VPC origin.
    private_alb = config.cdn and not config.domain_name
    # The app refuses bodies over this; the web ACL lets through exactly as much.
    body_limit = request_body_limit()
    if prod and not config.domain_name and config.cdn:
        pulumi.log.warn(
            "prod serves on the *.cloudfront.net certificate, whose security policy AWS pins "
            "to TLSv1: clients may still connect with TLS 1.0 and 1.1. Set domainName and "
            "hostedZoneId to serve on your own name with an ACM certificate, which lets "
            "CloudFront refuse anything older than TLS 1.2 (TLSv1.2_2021) and keeps your URL "
            "when the distribution is replaced"
        )
    network = Network(
        name,
        NetworkArgs(
            region=config.region,
            availability_zones=_zones(config, vpc_origin=private_alb),
            settings=config.network,
            tags=tags,
        ),
    )
    groups = SecurityGroups(
        name,
        SecurityGroupsArgs(
            vpc_id=network.vpc_id,
            cloudfront_only=config.cdn,
            cloudfront_port=80 if private_alb else 443,
            with_broker=rabbitmq,
            vpc_cidr=network.cidr_block,
            tags=tags,
        ),
    )

    def secret(role: str, description: str) -> GeneratedSecret:
        return GeneratedSecret(
            f"{name}-{role}",
            GeneratedSecretArgs(
                description=description, recovery_window_days=7 if prod else 0, tags=tags
            ),
        )

    origin_verify = (
        secret("origin-verify", "CloudFront -> ALB origin-verify header") if config.cdn else None
    )
    origin_domain = f"origin.{config.domain_name}" if config.cdn and config.domain_name else None
    alb = LoadBalancer(
        name,
        LoadBalancerArgs(
            region=config.region,
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids if private_alb else network.public_subnet_ids,
            internal=private_alb,
            security_group_id=groups.alb_id,
            domain_name=config.domain_name,
            hosted_zone_id=config.hosted_zone_id,
            origin_verify_secret=origin_verify.value if origin_verify else None,
            origin_domain_name=origin_domain,
            settings=config.load_balancer,
            deletion_protection=config.deletion_protection,
            tags=tags,
        ),
    )

    # A password the stack owns (not RDS-managed): replicas need it, and it changes only when
    # someone changes it (see infra/README.md, "Rotating the database password").
    database_password = secret("database-password", "RDS master password (DATABASE_PASSWORD)")
    database = Database(
        name,
        DatabaseArgs(
            subnet_ids=network.private_subnet_ids,
            security_group_id=groups.database_id,
            password=database_password.value,
            # AWS ends a secret's ARN with 6 random characters, new with each creation.
            final_snapshot_suffix=database_password.arn.apply(
                lambda arn: arn.rsplit("-", 1)[-1].lower()
            ),
            log_retention_days=config.log_retention_days,
            settings=config.database,
            deletion_protection=config.deletion_protection,
            tags=tags,
        ),
    )

    cache_token = secret("cache-auth", "ElastiCache auth token (REDIS_PASSWORD)")
    cache = Cache(
        name,
        CacheArgs(
            subnet_ids=network.private_subnet_ids,
            security_group_id=groups.cache_id,
            auth_token=cache_token.value,
            settings=config.cache,
            snapshot_retention_days=7 if prod else 0,
            tags=tags,
        ),
    )

    broker: Broker | None = None
    broker_password: GeneratedSecret
    if rabbitmq:
        assert groups.broker_id is not None
        broker_password = secret("broker-password", "Amazon MQ user password (BROKER_PASSWORD)")
        broker = Broker(
            name,
            BrokerArgs(
                subnet_ids=network.private_subnet_ids,
                security_group_id=groups.broker_id,
                password=broker_password.value,
                settings=config.amazon_mq,
                tags=tags,
            ),
        )
        broker_url = broker.url()
    else:
        broker_password, broker_url = cache_token, cache.url(BROKER_DB)

    cdn: Cdn | None = None
    if config.cdn:
        assert origin_verify is not None
        cdn = Cdn(
            name,
            CdnArgs(
                alb_domain_name=origin_domain or alb.dns_name,
                origin_verify_secret=origin_verify.value,
                vpc_origin_alb_arn=alb.arn if private_alb else None,
                max_request_body_bytes=body_limit,
                domain_name=config.domain_name,
                hosted_zone_id=config.hosted_zone_id,
                retain_static_bucket=config.deletion_protection,
                tags=tags,
            ),
        )
    else:
        # No CDN: the internet-facing ALB is the entry point and carries the web ACL.
        WebFirewall(
            name,
            WebFirewallArgs(
                scope="REGIONAL",
                max_request_body_bytes=body_limit,
                load_balancer_arn=alb.arn,
                tags=tags,
            ),
        )

    # No `image` in the stack config: build ../Dockerfile and push it to the stack's ECR repository.
    registry: Registry | None = None
    image: pulumi.Input[str]
    if config.image:
        image = config.image
    else:
        registry = Registry(
            name,
            RegistryArgs(
                cpu_architecture=config.service.cpu_architecture,
                force_delete=not config.deletion_protection,
                tags=tags,
            ),
        )
        image = registry.image

    jwt = secret("jwt", "JWT signing key (JWT_SECRET_KEY)")
    public_url = cdn.url if cdn else alb.url
    service = Service(
        name,
        ServiceArgs(
            image=image,
            region=config.region,
            subnet_ids=network.private_subnet_ids,
            security_group_id=groups.service_id,
            target_group_arn=alb.target_group_arn,
            request_count_label=pulumi.Output.concat(
                alb.arn_suffix, "/", alb.target_group_arn_suffix
            ),
            environment={
                "ENVIRONMENT": "production",
                "PORT": str(APP_PORT),
                "METRICS_PORT": str(METRICS_PORT),
                # The web ACL's limit is this one (policy waf-body-limit-matches-app).
                BODY_LIMIT_VARIABLE: str(body_limit),
                # The names requests arrive with: the ALB's, and behind CloudFront the origin
                # name it sends (never the viewer's Host); other Host headers get 400.
                "ALLOWED_HOSTS": allowed_hosts(alb.dns_name, config.domain_name, origin_domain),
                "DATABASE_URL": database.url(database.writer_endpoint),
                "DATABASE_READ_URLS": pulumi.Output.all(
                    *[database.url(r) for r in database.reader_endpoints]
                ).apply(lambda urls: ",".join(urls)),
                "REDIS_URL": cache.url(CACHE_DB),
                "BROKER_URL": broker_url,
                "STATIC_URL": pulumi.Output.concat(cdn.url, "/static") if cdn else "/static",
                # The load balancer's nodes live in the VPC: believe their X-Forwarded-For,
                # so the login rate limit keys on the client, not on the balancer.
                "TRUSTED_PROXIES": network.cidr_block,
                # Behind CloudFront the client is in CloudFront-Viewer-Address, not the edge's
                # X-Forwarded-For hop (the cdn's origin request policy forwards it).
                **({"CLIENT_IP_HEADER": CLIENT_IP_HEADER} if cdn else {}),
            },
            secrets={
                # The plain password string, read by each task at start.
                "DATABASE_PASSWORD": database_password.arn,
                "REDIS_PASSWORD": cache_token.arn,
                "BROKER_PASSWORD": broker_password.arn,
                "JWT_SECRET_KEY": jwt.arn,
            },
            settings=config.service,
            log_retention_days=config.log_retention_days,
            metrics_namespace=metrics_namespace,
            metrics_service=metrics_namespace,
            tags=tags,
        ),
    )

    monitoring = Monitoring(
        name,
        MonitoringArgs(
            region=config.region,
            alb_arn_suffix=alb.arn_suffix,
            target_group_arn_suffix=alb.target_group_arn_suffix,
            cluster_name=service.cluster_name,
            service_name=service.service_name,
            database_primary_id=database.primary_identifier,
            database_replica_ids=database.replica_identifiers,
            cache_cluster_ids=cache.member_cluster_ids,
            broker_name=broker.broker_name if broker else None,
            metrics_namespace=metrics_namespace,
            metrics_service=metrics_namespace,
            alarm_email=config.alarm_email,
            tags=tags,
        ),
    )

    outputs: dict[str, pulumi.Output[object]] = {
        "url": public_url,
        "load_balancer_dns_name": alb.dns_name,
        "database_writer_endpoint": database.writer_endpoint,
        "database_reader_endpoints": pulumi.Output.all(*database.reader_endpoints),
        "database_password_secret_arn": database_password.arn,
        "image": pulumi.Output.from_input(image),
        "cache_primary_endpoint": cache.primary_endpoint,
        "cluster_name": service.cluster_name,
        "service_name": service.service_name,
        "worker_service_name": service.worker_service_name,
        "log_group_name": service.log_group_name,
        "alarm_topic_arn": monitoring.topic_arn,
        "dashboard_name": monitoring.dashboard_name,
    }
    if cdn:
        outputs |= {
            "cdn_domain_name": cdn.domain_name,
            "static_bucket_name": cdn.static_bucket_name,
        }
    if broker:
        outputs["broker_endpoint"] = broker.amqps_endpoint
        outputs["broker_id"] = broker.broker_id
    if registry:
        outputs["repository_url"] = registry.repository_url
    return outputs


def _zones(config: StackConfig, vpc_origin: bool) -> tuple[Zone, ...]:
    """The region's standard zones by AZ ID (names differ per account), without the zones a
    CloudFront VPC origin cannot reach when the stack has one."""
    available = aws.get_availability_zones(
        state="available",
        filters=[
            aws.GetAvailabilityZonesFilterArgs(name=key, values=[value])
            for key, value in STANDARD_ZONE_FILTERS.items()
        ],
    )
    excluded = (
        dict.fromkeys(
            VPC_ORIGIN_UNSUPPORTED_ZONE_IDS,
            f"does not support CloudFront VPC origins ({VPC_ORIGINS_DOC})",
        )
        if vpc_origin
        else {}
    )
    try:
        return choose_zones(available.names, available.zone_ids, config.network, excluded=excluded)
    except ZoneChoiceError as error:
        raise ConfigError(f"{config.project}:{error} (region {config.region})") from None


# What every stack creates, by Pulumi type; footprint() adds what the config turns on.
NETWORK = (
    "aws:ec2/vpc:Vpc",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/eip:Eip",
    "aws:ec2/natGateway:NatGateway",
    "aws:ec2/vpcEndpoint:VpcEndpoint",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:index/getAvailabilityZones:getAvailabilityZones",
)
BUCKET = (
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
)
ALWAYS = (
    *NETWORK,
    *BUCKET,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:lb/targetGroup:TargetGroup",
    "aws:lb/listener:Listener",
    "aws:secretsmanager/secret:Secret",
    "aws:secretsmanager/secretVersion:SecretVersion",
    "aws:rds/instance:Instance",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:elasticache/parameterGroup:ParameterGroup",
    "aws:ecs/cluster:Cluster",
    "aws:ecs/service:Service",
    "aws:ecs/taskDefinition:TaskDefinition",
    "aws:appautoscaling/target:Target",
    "aws:appautoscaling/policy:Policy",
    "aws:sns/topic:Topic",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:cloudwatch/dashboard:Dashboard",
    "aws:wafv2/webAcl:WebAcl",
)
CDN = (
    "aws:cloudfront/distribution:Distribution",
    "aws:cloudfront/cachePolicy:CachePolicy",
    "aws:cloudfront/originRequestPolicy:OriginRequestPolicy",
    "aws:cloudfront/originAccessControl:OriginAccessControl",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketObjectv2:BucketObjectv2",
    "aws:lb/listenerRule:ListenerRule",
    "aws:ec2/getManagedPrefixList:getManagedPrefixList",
)
DOMAIN = (
    "aws:acm/certificate:Certificate",
    "aws:acm/certificateValidation:CertificateValidation",
    "aws:route53/record:Record",
)
REGISTRY = (
    "aws:ecr/repository:Repository",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "docker-build:index:Image",
    "aws:ecr/getAuthorizationToken:getAuthorizationToken",
)


def footprint(config: StackConfig) -> frozenset[str]:
    """The AWS resource types build(config) creates and the data sources it reads.

    The bootstrap derives the stack's deploy role from it (deploy_role.stack_actions); the
    bootstrap preview's policy deploy-role-covers-stack compares that role with what the
    previewed stack really creates, so a change here or in build() that one side misses fails
    there.
    """
    found = set(ALWAYS)
    if config.cdn:
        found |= set(CDN)
        if not config.domain_name:
            found.add("aws:cloudfront/vpcOrigin:VpcOrigin")
    else:
        found.add("aws:wafv2/webAclAssociation:WebAclAssociation")
    if config.domain_name:
        found |= set(DOMAIN)
    if config.broker == "rabbitmq":
        found.add("aws:mq/broker:Broker")
    if config.alarm_email:
        found.add("aws:sns/topicSubscription:TopicSubscription")
    if not config.image:
        found |= set(REGISTRY)
    return frozenset(found)


def record_names(config: StackConfig) -> tuple[str, ...]:
    """The DNS names whose records build(config) writes in the hosted zone (aliases and the
    certificates' validation records under them): the deploy role may change these only."""
    if not config.domain_name:
        return ()
    if config.cdn:
        return (config.domain_name, f"origin.{config.domain_name}")
    return (config.domain_name,)


def allowed_hosts(alb_dns_name: pulumi.Input[str], *names: str | None) -> pulumi.Output[str]:
    """ALLOWED_HOSTS: the ALB's DNS name and the stack's own names, lower case, no '*'."""
    return pulumi.Output.from_input(alb_dns_name).apply(
        lambda dns_name: ",".join(sorted({name.lower() for name in (dns_name, *names) if name}))
    )


def run() -> None:
    """Entry point of infra/__main__.py: validate the config, build, export the outputs."""
    for key, value in build(load_config()).items():
        pulumi.export(key, value)
