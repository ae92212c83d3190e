"""Rendered services preview every stack offline with the settings the answers ask for."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from typing import Any

import pytest
from rendered_services import Rendered, run_preview
from tenfold_infra.preview import REDACTED

STACKS = ("dev", "prod")
RDS = "aws:rds/instance:Instance"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
MQ = "aws:mq/broker:Broker"
CDN = "aws:cloudfront/distribution:Distribution"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def container(service: Rendered, stack: str, role: str) -> dict[str, Any]:
    task = service.one(stack, "aws:ecs/taskDefinition:TaskDefinition", f"-{role}")
    return json.loads(task["inputs"]["containerDefinitions"])[0]  # type: ignore[no-any-return]


def env(service: Rendered, stack: str, role: str = "app") -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(service, stack, role)["environment"]}


def test_nothing_left_unrendered(service: Rendered) -> None:
    for path in service.infra.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".py", ".txt"):
            text = path.read_text()
            assert "{{" not in text, path
            assert "{%" not in text, path
    assert not list(service.root.rglob("*.jinja"))
    assert (service.infra / "tenfold_infra" / "stack.py").is_file()
    assert not (service.infra / "tenfold_infra").is_symlink()


@pytest.mark.parametrize("stack", STACKS)
def test_every_policy_passes(service: Rendered, stack: str) -> None:
    policies = service.previews[stack]["policies"]
    assert len(policies) >= 21
    assert [p for p in policies if not p["passed"]] == []


@pytest.mark.parametrize("stack", STACKS)
def test_database(service: Rendered, stack: str) -> None:
    instances = service.resources(stack, RDS)
    (primary_resource,) = [i for i in instances if not i["inputs"].get("replicateSourceDb")]
    primary = primary_resource["inputs"]
    replicas = [i["inputs"] for i in instances if i["inputs"].get("replicateSourceDb")]
    assert len(replicas) == (service.answers["read_replicas"] if stack == "prod" else 0)
    # The mocks report a resource's name as its identifier: every replica follows the primary.
    assert all(r["replicateSourceDb"] == primary_resource["name"] for r in replicas)
    assert all(r["storageType"] == "gp3" and r["publiclyAccessible"] is False for r in replicas)
    assert primary["multiAz"] is (stack == "prod")
    assert primary["deletionProtection"] is (stack == "prod")
    assert primary["storageType"] == "gp3"
    assert primary["storageEncrypted"] is True
    # A stack-generated password (Secrets Manager), never RDS-managed: replicas need that.
    assert "manageMasterUserPassword" not in primary
    assert primary["password"] == REDACTED  # the generated value never reaches the output
    assert primary["performanceInsightsEnabled"] is True
    assert primary["monitoringInterval"] == 60
    assert primary["backupRetentionPeriod"] == (14 if stack == "prod" else 1)
    assert primary["publiclyAccessible"] is False
    params = {
        p["name"]: p["value"]
        for p in service.one(stack, "aws:rds/parameterGroup:ParameterGroup")["inputs"]["parameters"]
    }
    assert params["shared_preload_libraries"] == "pg_stat_statements"
    assert params["random_page_cost"] == "1.1"
    assert params["rds.force_ssl"] == "1"
    assert "log_min_duration_statement" in params
    assert "idle_in_transaction_session_timeout" in params


@pytest.mark.parametrize("stack", STACKS)
def test_service_gets_writer_and_reader_endpoints(service: Rendered, stack: str) -> None:
    outputs, settings = service.previews[stack]["outputs"], env(service, stack)
    assert (
        settings["DATABASE_URL"]
        == f"postgresql+asyncpg://app@{outputs['database_writer_endpoint']}:5432/app"
    )
    readers = [u for u in settings["DATABASE_READ_URLS"].split(",") if u]
    assert readers == [
        f"postgresql+asyncpg://app@{host}:5432/app" for host in outputs["database_reader_endpoints"]
    ]
    assert len(readers) == (service.answers["read_replicas"] if stack == "prod" else 0)
    assert settings["REDIS_URL"] == f"rediss://{outputs['cache_primary_endpoint']}:6379/0"
    assert settings["ENVIRONMENT"] == "production"
    (vpc,) = service.resources(stack, "aws:ec2/vpc:Vpc")
    assert settings["TRUSTED_PROXIES"] == vpc["inputs"]["cidrBlock"]
    secrets = {s["name"]: s["valueFrom"] for s in container(service, stack, "app")["secrets"]}
    assert secrets["DATABASE_PASSWORD"] == outputs["database_password_secret_arn"]
    assert set(secrets) == {
        "DATABASE_PASSWORD",
        "REDIS_PASSWORD",
        "BROKER_PASSWORD",
        "JWT_SECRET_KEY",
    }
    worker = container(service, stack, "worker")
    assert worker["command"] == ["python", "-m", "app.jobs.worker"]
    assert "portMappings" not in worker
    assert env(service, stack, "worker") == settings


@pytest.mark.parametrize("stack", STACKS)
def test_security_groups_least_privilege(service: Rendered, stack: str) -> None:
    # Every resource name starts with the stack's name (config.name), the VPC's included.
    (vpc,) = service.resources(stack, "aws:ec2/vpc:Vpc")
    prefix = vpc["name"].removesuffix("vpc")
    rules = {r["name"].removeprefix(prefix): r["inputs"] for r in service.resources(stack, INGRESS)}
    for store, port in (("database", 5432), ("cache", 6379), ("broker", 5671)):
        matching = [r for name, r in rules.items() if name.endswith(f"{store}-from-service")]
        if store == "broker" and service.answers["broker"] == "redis":
            assert not matching
            continue
        (rule,) = matching
        assert rule["fromPort"] == rule["toPort"] == port
        assert rule["referencedSecurityGroupId"].endswith("-service-id")
        assert "cidrIpv4" not in rule
    alb_rules = [r for name, r in rules.items() if name.startswith("alb-")]
    if service.answers["cdn"]:
        # CloudFront's prefix list weighs 55 of the group's 60 rules: referenced once, on the
        # one port CloudFront uses (443 to origin.<domain>, 80 through the VPC origin).
        (rule,) = alb_rules
        assert rule["prefixListId"]
        assert "cidrIpv4" not in rule
        assert rule["fromPort"] == (443 if service.answers["domain_name"] else 80)
    else:
        assert {r["fromPort"] for r in alb_rules} == {80, 443}
        assert [r.get("cidrIpv4") for r in alb_rules] == ["0.0.0.0/0", "0.0.0.0/0"]
    service_in = [r for name, r in rules.items() if name.endswith("service-from-alb")]
    assert len(service_in) == 1
    assert service_in[0]["referencedSecurityGroupId"].endswith("-alb-id")


@pytest.mark.parametrize("stack", STACKS)
def test_network(service: Rendered, stack: str) -> None:
    assert len(service.resources(stack, "aws:ec2/natGateway:NatGateway")) == (
        3 if stack == "prod" else 1
    )
    subnets = service.resources(stack, "aws:ec2/subnet:Subnet")
    assert len(subnets) == (6 if stack == "prod" else 4)
    assert all(
        s["inputs"]["availabilityZone"].startswith(service.answers["aws_region"]) for s in subnets
    )
    endpoints = {
        e["inputs"]["serviceName"].rsplit(".", 1)[-1]
        if "ecr" not in e["inputs"]["serviceName"]
        else e["inputs"]["serviceName"].split(".", 3)[-1]
        for e in service.resources(stack, "aws:ec2/vpcEndpoint:VpcEndpoint")
    }
    assert {"s3", "ecr.api", "ecr.dkr", "logs"} <= endpoints


@pytest.mark.parametrize("stack", STACKS)
def test_the_connection_budget_is_one_number_and_the_alb_closes_idle_connections_first(
    service: Rendered, stack: str
) -> None:
    """SERVER_MAX_CONNECTIONS is the budget Granian and the local HAProxy use (256 by
    default); the service waits for a request head longer than the ALB keeps an idle
    connection, so the ALB always closes first (a target closing first answers 502)."""
    alb = service.one(stack, "aws:lb/loadBalancer:LoadBalancer")["inputs"]
    app = env(service, stack)
    assert app["SERVER_MAX_CONNECTIONS"] == "256"
    assert float(app["SERVER_IDLE_TIMEOUT_SECONDS"]) > alb["idleTimeout"] == 60


@pytest.mark.parametrize("stack", STACKS)
def test_load_balancer(service: Rendered, stack: str) -> None:
    alb = service.one(stack, "aws:lb/loadBalancer:LoadBalancer")["inputs"]
    group = service.one(stack, "aws:lb/targetGroup:TargetGroup")["inputs"]
    assert len(alb["name"]) <= 32
    assert len(group["name"]) <= 32
    # With the CDN and no domain, CloudFront reaches an internal ALB through a VPC origin.
    private = service.answers["cdn"] and not service.answers["domain_name"]
    assert alb["internal"] is private
    assert all(f"-{'private' if private else 'public'}-" in s for s in alb["subnets"])
    assert alb["enableHttp2"] is True
    assert alb["dropInvalidHeaderFields"] is True
    assert alb["accessLogs"]["enabled"] is True
    log_policy = json.loads(
        service.one(stack, "aws:s3/bucketPolicy:BucketPolicy", "-access-logs")["inputs"]["policy"]
    )
    principal = log_policy["Statement"][0]["Principal"]
    assert principal["Service"] == "logdelivery.elasticloadbalancing.amazonaws.com"
    assert ("AWS" in principal) is (service.answers["aws_region"] != "mx-central-1")
    assert group["healthCheck"]["path"] == "/readyz"
    assert group["deregistrationDelay"] == 30
    assert group["loadBalancingAlgorithmType"] == "least_outstanding_requests"
    assert group["targetType"] == "ip"
    listeners = {
        r["inputs"]["port"]: r["inputs"]
        for r in service.resources(stack, "aws:lb/listener:Listener")
    }
    rules = service.resources(stack, "aws:lb/listenerRule:ListenerRule")
    if service.answers["domain_name"]:
        assert listeners[443]["protocol"] == "HTTPS"
        assert listeners[443]["sslPolicy"].startswith("ELBSecurityPolicy-TLS13")
        assert listeners[80]["defaultActions"][0]["redirect"]["protocol"] == "HTTPS"
        assert service.resources(stack, "aws:acm/certificateValidation:CertificateValidation")
    else:
        assert set(listeners) == {80}
    if service.answers["cdn"]:
        (rule,) = rules
        assert rule["inputs"]["conditions"][0]["httpHeader"]["httpHeaderName"] == "X-Origin-Verify"
        assert rule["inputs"]["conditions"][0]["httpHeader"]["values"] == ["[secret]"]
        entry = listeners[443 if service.answers["domain_name"] else 80]
        assert entry["defaultActions"][0]["fixedResponse"]["statusCode"] == "403"
    else:
        assert not rules


@pytest.mark.parametrize("stack", STACKS)
def test_cache_and_broker(service: Rendered, stack: str) -> None:
    cache = service.one(stack, CACHE)["inputs"]
    assert cache["engine"] == "valkey"
    assert cache["transitEncryptionEnabled"] is True
    assert cache["atRestEncryptionEnabled"] is True
    assert cache["authToken"] == "[secret]"
    assert cache["numCacheClusters"] == (2 if stack == "prod" else 1)
    assert cache["automaticFailoverEnabled"] is cache["multiAzEnabled"] is (stack == "prod")
    params = service.one(stack, "aws:elasticache/parameterGroup:ParameterGroup")["inputs"][
        "parameters"
    ]
    assert {"name": "maxmemory-policy", "value": "volatile-lru"} in params
    brokers = service.resources(stack, MQ)
    if service.answers["broker"] == "rabbitmq":
        (broker,) = brokers
        assert broker["inputs"]["deploymentMode"] == (
            "CLUSTER_MULTI_AZ" if stack == "prod" else "SINGLE_INSTANCE"
        )
        assert broker["inputs"]["publiclyAccessible"] is False
        assert env(service, stack)["BROKER_URL"].startswith("amqps://app@")
    else:
        assert not brokers
        assert (
            env(service, stack)["BROKER_URL"]
            == f"rediss://{service.previews[stack]['outputs']['cache_primary_endpoint']}:6379/1"
        )


@pytest.mark.parametrize("stack", STACKS)
def test_cdn(service: Rendered, stack: str) -> None:
    distributions = service.resources(stack, CDN)
    if not service.answers["cdn"]:
        assert not distributions
        assert env(service, stack)["STATIC_URL"] == "/static"
        return
    (distribution,) = distributions
    d = distribution["inputs"]
    assert d["httpVersion"] == "http2and3"
    assert d["isIpv6Enabled"] is True
    assert d["defaultCacheBehavior"]["compress"] is True
    assert env(service, stack)["CLIENT_IP_HEADER"] == "CloudFront-Viewer-Address"
    # The API behaviour: Authorization in the cache key, no Host to the origin, client address.
    api_cache = service.one(stack, "aws:cloudfront/cachePolicy:CachePolicy", "-api")
    assert d["defaultCacheBehavior"]["cachePolicyId"] == f"{api_cache['name']}-id"
    key = api_cache["inputs"]["parametersInCacheKeyAndForwardedToOrigin"]
    assert key["headersConfig"]["headers"]["items"] == ["Authorization"]
    assert api_cache["inputs"]["defaultTtl"] == 0
    api_request = service.one(stack, "aws:cloudfront/originRequestPolicy:OriginRequestPolicy")
    assert d["defaultCacheBehavior"]["originRequestPolicyId"] == f"{api_request['name']}-id"
    forwarded = api_request["inputs"]["headersConfig"]["headers"]["items"]
    assert "CloudFront-Viewer-Address" in forwarded
    assert "Host" not in forwarded
    assert "Authorization" not in forwarded
    # The edge web ACL, from us-east-1, on the distribution.
    (acl,) = service.resources(stack, "aws:wafv2/webAcl:WebAcl")
    assert acl["inputs"]["scope"] == "CLOUDFRONT"
    assert acl["inputs"]["region"] == "us-east-1"
    assert d["webAclId"].endswith(f":{acl['name']}")
    assert not service.resources(stack, "aws:wafv2/webAclAssociation:WebAclAssociation")
    (static,) = d["orderedCacheBehaviors"]
    assert static["pathPattern"] == "/static/*"
    assert static["cachePolicyId"] == "658327ea-f89d-4fab-a63d-7e88639e58f6"
    origins = {o["originId"]: o for o in d["origins"]}
    assert origins["static"]["originAccessControlId"]
    assert origins["alb"]["customHeaders"][0]["value"] == "[secret]"
    assert (
        env(service, stack)["STATIC_URL"] == f"{service.previews[stack]['outputs']['url']}/static"
    )
    if not service.answers["domain_name"]:
        # The *.cloudfront.net certificate: AWS pins its TLS policy, so none is set.
        assert d["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
        (vpc_origin,) = service.resources(stack, "aws:cloudfront/vpcOrigin:VpcOrigin")
        assert origins["alb"]["vpcOriginConfig"]["vpcOriginId"] == f"{vpc_origin['name']}-id"
        assert "customOriginConfig" not in origins["alb"]
        endpoint = vpc_origin["inputs"]["vpcOriginEndpointConfig"]
        alb = service.one(stack, "aws:lb/loadBalancer:LoadBalancer")
        assert endpoint["arn"].endswith(f":{alb['name']}")
        assert endpoint["originProtocolPolicy"] == "http-only"
    if service.answers["domain_name"]:
        assert d["viewerCertificate"]["minimumProtocolVersion"] == "TLSv1.2_2021"
        assert not service.resources(stack, "aws:cloudfront/vpcOrigin:VpcOrigin")
        domain = (
            service.answers["domain_name"]
            if stack == "prod"
            else f"dev.{service.answers['domain_name']}"
        )
        assert d["aliases"] == [domain]
        assert d["viewerCertificate"]["sslSupportMethod"] == "sni-only"
        assert origins["alb"]["domainName"] == f"origin.{domain}"
        assert origins["alb"]["customOriginConfig"]["originProtocolPolicy"] == "https-only"
        providers = service.resources(stack, "pulumi:providers:aws")
        assert [p["inputs"]["region"] for p in providers] == ["us-east-1"]
        certificates = {
            c["inputs"]["domainName"]
            for c in service.resources(stack, "aws:acm/certificate:Certificate")
        }
        assert certificates == {domain, f"origin.{domain}"}


@pytest.mark.parametrize("stack", STACKS)
def test_static_assets_fill_the_cdn_bucket(service: Rendered, stack: str) -> None:
    """Every app/static file under the key STATIC_URL links to: hashed and immutable, and plain."""
    objects = {
        o["inputs"]["key"]: o["inputs"]
        for o in service.resources(stack, "aws:s3/bucketObjectv2:BucketObjectv2")
    }
    if not service.answers["cdn"]:
        assert not objects
        return
    bucket = service.one(stack, "aws:s3/bucket:Bucket", "-static")
    static = service.root / "app" / "static"
    files = [f for f in sorted(static.rglob("*")) if f.is_file()]
    assert files
    expected = set()
    for path in files:
        logical = path.relative_to(static).as_posix()
        stem, _, suffix = logical.rpartition(".")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        hashed, plain = f"static/{stem}.{digest}.{suffix}", f"static/{logical}"
        expected |= {hashed, plain}
        assert objects[hashed]["cacheControl"] == "public, max-age=31536000, immutable"
        assert objects[plain]["cacheControl"] == "public, max-age=0, must-revalidate"
        for key in (hashed, plain):
            assert objects[key]["bucket"] == f"{bucket['name']}-id"
            assert (service.infra / objects[key]["source"]["fileAsset"]).resolve() == path
    assert set(objects) == expected
    types = {k.rsplit(".", 1)[-1]: o["contentType"] for k, o in objects.items()}
    assert types["css"].startswith("text/css")
    assert types["svg"] == "image/svg+xml"


@pytest.mark.parametrize("stack", STACKS)
def test_waf_on_the_public_entry(service: Rendered, stack: str) -> None:
    (acl,) = service.resources(stack, "aws:wafv2/webAcl:WebAcl")
    rules = {r["name"]: r for r in acl["inputs"]["rules"]}
    assert {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    } <= set(rules)
    rate = rules["rate-limit-per-ip"]["statement"]["rateBasedStatement"]
    assert rate["aggregateKeyType"] == "IP"
    assert rate["limit"] > 0
    assert "block" in rules["rate-limit-per-ip"]["action"]
    if service.answers["cdn"]:
        return  # test_cdn: CLOUDFRONT scope on the distribution
    assert acl["inputs"]["scope"] == "REGIONAL"
    (association,) = service.resources(stack, "aws:wafv2/webAclAssociation:WebAclAssociation")
    alb = service.one(stack, "aws:lb/loadBalancer:LoadBalancer")
    assert association["inputs"]["resourceArn"].endswith(f":{alb['name']}")
    assert "CLIENT_IP_HEADER" not in env(service, stack)


@pytest.mark.parametrize("stack", STACKS)
def test_service_and_autoscaling(service: Rendered, stack: str) -> None:
    app = service.one(stack, "aws:ecs/service:Service", "-app")["inputs"]
    assert app["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert app["networkConfiguration"]["assignPublicIp"] is False
    assert app["launchType"] == "FARGATE"
    metrics = {
        p["inputs"]["targetTrackingScalingPolicyConfiguration"]["predefinedMetricSpecification"][
            "predefinedMetricType"
        ]
        for p in service.resources(stack, "aws:appautoscaling/policy:Policy")
        if p["name"].split("-")[-2] == "app"
    }
    assert metrics == {"ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"}
    logs = service.one(stack, "aws:cloudwatch/logGroup:LogGroup", "-logs")["inputs"]
    assert logs["retentionInDays"] == (30 if stack == "prod" else 7)


@pytest.mark.parametrize("stack", STACKS)
def test_monitoring(service: Rendered, stack: str) -> None:
    metrics = {
        a["inputs"]["metricName"]
        for a in service.resources(stack, "aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    expected = {
        "HTTPCode_ELB_5XX_Count",
        "TargetResponseTime",
        "UnHealthyHostCount",
        "CPUUtilization",
        "FreeStorageSpace",
        "Evictions",
        "EngineCPUUtilization",
    }
    if stack == "prod" and service.answers["read_replicas"]:
        expected.add("ReplicaLag")
    if service.answers["broker"] == "rabbitmq":
        expected.add("MessageCount")
    assert expected <= metrics
    assert service.resources(stack, "aws:cloudwatch/dashboard:Dashboard")
    assert service.previews[stack]["diagram"].startswith("flowchart")


def test_text_preview_of_default_prod(default_service: Rendered) -> None:
    done = run_preview(default_service.infra, "prod")
    assert done.returncode == 0, done.stderr
    for section in (
        "Offline preview of stack prod",
        "Resources",
        "Policies",
        "Outputs",
        "```mermaid",
    ):
        assert section in done.stdout
    assert "FAIL" not in done.stdout
    assert "mock-secret" not in done.stdout


def test_generated_infra_tests_pass(default_service: Rendered) -> None:
    """The service's own infra tests, run the way its users run them."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=default_service.infra,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_metrics_port_is_reachable_from_the_vpc_only_and_never_routed(
    service: Rendered, stack: str
) -> None:
    settings = env(service, stack)
    assert (settings["PORT"], settings["METRICS_PORT"]) == ("8000", "9100")
    ports = {
        m["name"]: m["containerPort"] for m in container(service, stack, "app")["portMappings"]
    }
    assert ports == {"http": 8000, "metrics": 9100}
    # The ALB's target group, and the service's load balancer entry, use the app port alone.
    assert service.one(stack, "aws:lb/targetGroup:TargetGroup")["inputs"]["port"] == 8000
    app = service.one(stack, "aws:ecs/service:Service", "-app")["inputs"]
    assert [lb["containerPort"] for lb in app["loadBalancers"]] == [8000]
    (vpc,) = service.resources(stack, "aws:ec2/vpc:Vpc")
    metrics_rules = [
        r["inputs"] for r in service.resources(stack, INGRESS) if r["inputs"]["fromPort"] == 9100
    ]
    assert [(r["toPort"], r.get("cidrIpv4")) for r in metrics_rules] == [
        (9100, vpc["inputs"]["cidrBlock"])
    ]
    egress = service.resources(stack, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert not [r for r in egress if r["inputs"]["fromPort"] == 9100]  # the ALB cannot reach it


@pytest.mark.parametrize("stack", STACKS)
def test_allowed_hosts_are_the_names_requests_arrive_with(service: Rendered, stack: str) -> None:
    hosts = env(service, stack)["ALLOWED_HOSTS"].split(",")
    assert "*" not in hosts
    assert hosts == sorted(set(hosts))
    assert service.previews[stack]["outputs"]["load_balancer_dns_name"].lower() in hosts
    if service.answers["cdn"]:
        # CloudFront sends its origin's name as Host (never the viewer's).
        distribution = service.one(stack, CDN)["inputs"]
        origins = {o["originId"]: o for o in distribution["origins"]}
        if service.answers["domain_name"]:
            assert origins["alb"]["domainName"] in hosts
    domain = service.answers["domain_name"]
    if domain:
        assert (domain if stack == "prod" else f"dev.{domain}") in hosts
