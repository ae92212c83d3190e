"""Resource types AWS makes no charge for: each a $0 line naming the AWS page that says so.

Most are configuration (a security group, a parameter group, a listener) whose use is billed
through another line (the load balancer's hours, the database's instance hours); the page is
the service's pricing page, which lists what is billed and not these. A few are features AWS
documents as free outright (public certificates, VPC origins, gateway endpoints, Auto
Scaling). Types that are not AWS resources at all (the provider, a generated password, the
image built on the deploying machine) cost nothing by nature and say so.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NoCharge:
    reason: str
    page: str


VPC = NoCharge(
    "no charge for the VPC and its parts; NAT gateways, IPv4 addresses and endpoints are billed",
    "https://aws.amazon.com/vpc/pricing/",
)
IAM = NoCharge("IAM is offered at no additional charge", "https://aws.amazon.com/iam/faqs/")
ECS = NoCharge(
    "no charge for ECS itself: Fargate tasks are billed by vCPU and memory",
    "https://aws.amazon.com/ecs/pricing/",
)
ELB = NoCharge(
    "part of the load balancer, billed by its hours and LCUs",
    "https://aws.amazon.com/elasticloadbalancing/pricing/",
)
CLOUDFRONT = NoCharge(
    "distribution configuration; CloudFront bills data out and requests",
    "https://aws.amazon.com/cloudfront/pricing/",
)
RDS = NoCharge(
    "database configuration; RDS bills instance hours and storage",
    "https://aws.amazon.com/rds/postgresql/pricing/",
)
ELASTICACHE = NoCharge(
    "cache configuration; ElastiCache bills node hours",
    "https://aws.amazon.com/elasticache/pricing/",
)
S3 = NoCharge(
    "bucket configuration (SSE-S3 encryption is at no additional cost); S3 bills storage "
    "and requests",
    "https://aws.amazon.com/s3/pricing/",
)
NOT_AWS = NoCharge("not an AWS resource: nothing is billed", "")

NO_CHARGE: dict[str, NoCharge] = {
    "pulumi:providers:aws": NOT_AWS,
    "random:index/randomPassword:RandomPassword": NOT_AWS,
    # Built on the deploying machine; its stored image is ECR's storage line.
    "docker-build:index:Image": NoCharge(
        "built on the deploying machine; the pushed image is ECR's storage line",
        "https://aws.amazon.com/ecr/pricing/",
    ),
    "aws:acm/certificate:Certificate": NoCharge(
        "public certificates from ACM are free",
        "https://aws.amazon.com/certificate-manager/pricing/",
    ),
    "aws:acm/certificateValidation:CertificateValidation": NoCharge(
        "public certificates from ACM are free",
        "https://aws.amazon.com/certificate-manager/pricing/",
    ),
    "aws:route53/record:Record": NoCharge(
        "alias queries to CloudFront and load balancers are free; the hosted zone is yours",
        "https://aws.amazon.com/route53/pricing/",
    ),
    "aws:appautoscaling/policy:Policy": NoCharge(
        "Application Auto Scaling has no charge of its own",
        "https://aws.amazon.com/autoscaling/pricing/",
    ),
    "aws:appautoscaling/target:Target": NoCharge(
        "Application Auto Scaling has no charge of its own",
        "https://aws.amazon.com/autoscaling/pricing/",
    ),
    "aws:cloudfront/cachePolicy:CachePolicy": CLOUDFRONT,
    "aws:cloudfront/originAccessControl:OriginAccessControl": CLOUDFRONT,
    "aws:cloudfront/originRequestPolicy:OriginRequestPolicy": CLOUDFRONT,
    "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy": CLOUDFRONT,
    "aws:cloudfront/vpcOrigin:VpcOrigin": NoCharge(
        "CloudFront VPC origins come at no additional cost",
        "https://aws.amazon.com/about-aws/whats-new/2024/11/amazon-cloudfront-vpc-origins/",
    ),
    "aws:wafv2/webAclAssociation:WebAclAssociation": NoCharge(
        "WAF bills web ACLs, rules and requests, not associations",
        "https://aws.amazon.com/waf/pricing/",
    ),
    "aws:ec2/internetGateway:InternetGateway": VPC,
    "aws:ec2/routeTable:RouteTable": VPC,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": VPC,
    "aws:ec2/route:Route": VPC,
    "aws:ec2/securityGroup:SecurityGroup": VPC,
    "aws:ec2/subnet:Subnet": VPC,
    "aws:ec2/vpc:Vpc": VPC,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": VPC,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": VPC,
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": NoCharge(
        "ECR bills stored images and transfer, not lifecycle policies",
        "https://aws.amazon.com/ecr/pricing/",
    ),
    "aws:ecs/cluster:Cluster": ECS,
    "aws:ecs/taskDefinition:TaskDefinition": ECS,
    "aws:elasticache/parameterGroup:ParameterGroup": ELASTICACHE,
    "aws:elasticache/subnetGroup:SubnetGroup": ELASTICACHE,
    "aws:iam/role:Role": IAM,
    "aws:iam/rolePolicy:RolePolicy": IAM,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": IAM,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": IAM,
    "aws:lb/listener:Listener": ELB,
    "aws:lb/listenerRule:ListenerRule": ELB,
    "aws:lb/targetGroup:TargetGroup": ELB,
    "aws:rds/parameterGroup:ParameterGroup": RDS,
    "aws:rds/subnetGroup:SubnetGroup": RDS,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": S3,
    "aws:s3/bucketObjectv2:BucketObjectv2": NoCharge(
        "an object in the bucket: billed in the bucket's storage line",
        "https://aws.amazon.com/s3/pricing/",
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": S3,
    "aws:s3/bucketPolicy:BucketPolicy": S3,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": S3,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": S3,
    "aws:s3/bucketVersioning:BucketVersioning": S3,
    "aws:s3/bucketLogging:BucketLogging": S3,
    "aws:secretsmanager/secretVersion:SecretVersion": NoCharge(
        "Secrets Manager bills each secret a month, its versions included",
        "https://aws.amazon.com/secrets-manager/pricing/",
    ),
    # A topic has no standing charge; the alarm e-mails it sends cost $2 per 100,000.
    "aws:sns/topic:Topic": NoCharge(
        "no charge for a topic; e-mail notifications are billed per 100,000 (alarms send few)",
        "https://aws.amazon.com/sns/pricing/",
    ),
    "aws:sns/topicSubscription:TopicSubscription": NoCharge(
        "no charge for a subscription; notifications are billed with the topic's deliveries",
        "https://aws.amazon.com/sns/pricing/",
    ),
}
# Gateway endpoints (S3, DynamoDB) carry no charge; interface endpoints are priced.
GATEWAY_ENDPOINT = NoCharge(
    "gateway endpoints (S3, DynamoDB) carry no additional charge",
    "https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html",
)
