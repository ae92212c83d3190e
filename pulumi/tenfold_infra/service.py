"""ECS Fargate: the API service behind the ALB and the background worker, both autoscaled.

A deploy is the whole path: the app task's `migrate` container runs the Alembic migrations
and exits, and only then does the `app` container start (dependsOn SUCCESS), so new code
never serves an old schema; `pulumi up` waits for both services to be steady, and the
circuit breaker rolls a crash-looping deployment back (and fails the update).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi_aws as aws

import pulumi

from .security import APP_PORT

SERVER_COMMAND = ("python", "-m", "app.server")
WORKER_COMMAND = ("python", "-m", "app.jobs.worker")
MIGRATE_COMMAND = ("python", "-m", "app.db.migrate")
# Exit 0 while the worker's heartbeat file is fresh: a wedged worker is replaced by ECS.
WORKER_HEALTH_COMMAND = ("CMD", "python", "-m", "app.jobs.health")
# The worker's Embedded Metric Format metric: jobs waiting in the queue.
QUEUE_DEPTH_METRIC = "JobsQueueDepth"


@dataclass(frozen=True)
class ServiceArgs:
    # "<repository>:<tag>" or "<repository>@sha256:...": never `latest`, never untagged.
    image: pulumi.Input[str]
    region: str
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    target_group_arn: pulumi.Input[str]
    # "<alb arn_suffix>/<target group arn_suffix>", the ALBRequestCountPerTarget label.
    request_count_label: pulumi.Input[str]
    # Plain settings (DATABASE_URL, REDIS_URL...) and Secrets Manager references ("arn" or "arn:key::").
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    # Graviton: about 20% cheaper per vCPU and faster for Python; the image must be built for linux/arm64.
    cpu_architecture: Literal["ARM64", "X86_64"] = "ARM64"
    cpu: int = 1024
    memory_mib: int = 2048
    min_tasks: int = 2
    max_tasks: int = 10
    worker_cpu: int = 512
    worker_memory_mib: int = 1024
    worker_min_tasks: int = 1
    worker_max_tasks: int = 4
    target_cpu_percent: float = 60.0
    # Requests per task per minute the ALB may send before a task is added.
    target_requests_per_task: int = 1000
    log_retention_days: int = 30
    # Seconds a stopping task gets to finish in-flight work after SIGTERM.
    stop_timeout_seconds: int = 30
    health_check_grace_seconds: int = 60
    # CloudWatch namespace and Service dimension of the app's own metrics (METRICS_NAMESPACE,
    # SERVICE_NAME): the worker reports the queue depth there and is scaled on it.
    metrics_namespace: str = "tenfold"
    metrics_service: str = "app"
    # Jobs waiting per worker task before another task is added: backlog, not CPU, says
    # that consumers fall behind (a worker waiting on I/O is idle while the queue grows).
    target_jobs_per_worker: int = 100
    tags: Mapping[str, str] = field(default_factory=dict)


class Service(pulumi.ComponentResource):
    cluster_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    worker_service_name: pulumi.Output[str]
    log_group_name: pulumi.Output[str]
    task_role_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:service:Service", name, None, opts)
        self._name = name
        self._child = pulumi.ResourceOptions(parent=self)
        child = self._child
        tags = dict(args.tags)

        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enhanced")],
            tags=tags,
            opts=child,
        )
        logs = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/ecs/{name}",
            retention_in_days=args.log_retention_days,
            tags=tags,
            opts=child,
        )
        execution_role = self._role("execution", "ecs-tasks.amazonaws.com", tags)
        aws.iam.RolePolicyAttachment(
            f"{name}-execution",
            role=execution_role.name,
            policy_arn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
            opts=child,
        )
        # The execution role reads exactly the secrets the task names, nothing else.
        secret_arns = [
            pulumi.Output.from_input(v).apply(_secret_arn) for v in args.secrets.values()
        ]
        aws.iam.RolePolicy(
            f"{name}-read-secrets",
            role=execution_role.id,
            policy=pulumi.Output.all(*secret_arns).apply(
                lambda arns: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "secretsmanager:GetSecretValue",
                                "Resource": sorted(set(arns))
                                or ["arn:aws:secretsmanager:*:*:secret:none"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        task_role = self._role("task", "ecs-tasks.amazonaws.com", tags)

        environment = {
            **dict(args.environment),
            "METRICS_NAMESPACE": args.metrics_namespace,
            "SERVICE_NAME": args.metrics_service,
        }

        def task_definition(
            role: str, cpu: int, memory: int, containers: Callable[[dict[str, Any]], list[Any]]
        ) -> aws.ecs.TaskDefinition:
            container = pulumi.Output.all(
                env=pulumi.Output.all(**environment),
                secrets=pulumi.Output.all(**dict(args.secrets)),
                log_group=logs.name,
                image=args.image,
            ).apply(lambda v: json.dumps(containers(v)))
            return aws.ecs.TaskDefinition(
                f"{name}-{role}",
                family=f"{name}-{role}",
                cpu=str(cpu),
                memory=str(memory),
                network_mode="awsvpc",
                requires_compatibilities=["FARGATE"],
                execution_role_arn=execution_role.arn,
                task_role_arn=task_role.arn,
                runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                    cpu_architecture=args.cpu_architecture, operating_system_family="LINUX"
                ),
                container_definitions=container,
                tags=tags,
                opts=child,
            )

        network = aws.ecs.ServiceNetworkConfigurationArgs(
            subnets=list(args.subnet_ids),
            security_groups=[args.security_group_id],
            assign_public_ip=False,
        )
        circuit_breaker = aws.ecs.ServiceDeploymentCircuitBreakerArgs(enable=True, rollback=True)
        app = aws.ecs.Service(
            f"{name}-app",
            cluster=cluster.arn,
            task_definition=task_definition(
                "app", args.cpu, args.memory_mib, _app_containers(args)
            ).arn,
            desired_count=args.min_tasks,
            launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration=network,
            deployment_circuit_breaker=circuit_breaker,
            # `pulumi up` fails instead of reporting success while tasks crash-loop.
            wait_for_steady_state=True,
            # Start new tasks before stopping old ones: full capacity during deploys.
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            health_check_grace_period_seconds=args.health_check_grace_seconds,
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=args.target_group_arn,
                    container_name="app",
                    container_port=APP_PORT,
                )
            ],
            availability_zone_rebalancing="ENABLED",
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCount"]),
        )
        worker = aws.ecs.Service(
            f"{name}-worker",
            cluster=cluster.arn,
            task_definition=task_definition(
                "worker", args.worker_cpu, args.worker_memory_mib, _worker_containers(args)
            ).arn,
            desired_count=args.worker_min_tasks,
            launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration=network,
            deployment_circuit_breaker=circuit_breaker,
            # `pulumi up` fails instead of reporting success while tasks crash-loop.
            wait_for_steady_state=True,
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            availability_zone_rebalancing="ENABLED",
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCount"]),
        )

        app_target = self._scaling_target("app", cluster, app, args.min_tasks, args.max_tasks)
        self._target_tracking(
            "app-cpu", app_target, "ECSServiceAverageCPUUtilization", args.target_cpu_percent
        )
        self._target_tracking(
            "app-requests",
            app_target,
            "ALBRequestCountPerTarget",
            float(args.target_requests_per_task),
            resource_label=args.request_count_label,
        )
        worker_target = self._scaling_target(
            "worker", cluster, worker, args.worker_min_tasks, args.worker_max_tasks
        )
        self._target_tracking(
            "worker-cpu", worker_target, "ECSServiceAverageCPUUtilization", args.target_cpu_percent
        )
        self._queue_depth_tracking(worker_target, cluster, worker, args)

        self.cluster_name = cluster.name
        self.service_name = app.name
        self.worker_service_name = worker.name
        self.log_group_name = logs.name
        self.task_role_arn = task_role.arn
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "service_name": self.service_name,
                "worker_service_name": self.worker_service_name,
                "log_group_name": self.log_group_name,
            }
        )

    def _role(self, role: str, principal: str, tags: Mapping[str, str]) -> aws.iam.Role:
        return aws.iam.Role(
            f"{self._name}-{role}",
            assume_role_policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"Service": principal},
                        }
                    ],
                }
            ),
            tags=dict(tags),
            opts=self._child,
        )

    def _scaling_target(
        self,
        role: str,
        cluster: aws.ecs.Cluster,
        service: aws.ecs.Service,
        min_tasks: int,
        max_tasks: int,
    ) -> aws.appautoscaling.Target:
        return aws.appautoscaling.Target(
            f"{self._name}-{role}",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat("service/", cluster.name, "/", service.name),
            min_capacity=min_tasks,
            max_capacity=max_tasks,
            opts=self._child,
        )

    def _target_tracking(
        self,
        policy: str,
        target: aws.appautoscaling.Target,
        metric: str,
        value: float,
        resource_label: pulumi.Input[str] | None = None,
    ) -> None:
        aws.appautoscaling.Policy(
            f"{self._name}-{policy}",
            policy_type="TargetTrackingScaling",
            resource_id=target.resource_id,
            scalable_dimension=target.scalable_dimension,
            service_namespace=target.service_namespace,
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=value,
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type=metric, resource_label=resource_label
                ),
                # Scale out fast, scale in slowly: a flapping fleet costs more than a spare task.
                scale_out_cooldown=60,
                scale_in_cooldown=300,
            ),
            opts=self._child,
        )

    def _queue_depth_tracking(
        self,
        target: aws.appautoscaling.Target,
        cluster: aws.ecs.Cluster,
        worker: aws.ecs.Service,
        args: ServiceArgs,
    ) -> None:
        """Backlog per running worker task (jobs waiting / tasks) tracked to a target.

        The AWS pattern for queue consumers: the metric scales out as the backlog grows and in
        as it drains, whatever the number of tasks. Running tasks come from Container Insights.
        """
        metric = aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricArgs
        stat = aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatArgs
        spec = aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricArgs
        dimension = aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationMetricMetricStatMetricDimensionArgs
        aws.appautoscaling.Policy(
            f"{self._name}-worker-queue-depth",
            policy_type="TargetTrackingScaling",
            resource_id=target.resource_id,
            scalable_dimension=target.scalable_dimension,
            service_namespace=target.service_namespace,
            target_tracking_scaling_policy_configuration=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=float(args.target_jobs_per_worker),
                customized_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationArgs(
                    metrics=[
                        metric(
                            id="depth",
                            metric_stat=stat(
                                metric=spec(
                                    namespace=args.metrics_namespace,
                                    metric_name=QUEUE_DEPTH_METRIC,
                                    dimensions=[
                                        dimension(name="Service", value=args.metrics_service)
                                    ],
                                ),
                                stat="Average",
                            ),
                            return_data=False,
                        ),
                        metric(
                            id="tasks",
                            metric_stat=stat(
                                metric=spec(
                                    namespace="ECS/ContainerInsights",
                                    metric_name="RunningTaskCount",
                                    dimensions=[
                                        dimension(name="ClusterName", value=cluster.name),
                                        dimension(name="ServiceName", value=worker.name),
                                    ],
                                ),
                                stat="Average",
                            ),
                            return_data=False,
                        ),
                        metric(
                            id="backlog_per_task",
                            expression="depth / IF(tasks > 0, tasks, 1)",
                            label="Jobs waiting per worker task",
                            return_data=True,
                        ),
                    ]
                ),
                scale_out_cooldown=60,
                scale_in_cooldown=300,
            ),
            opts=self._child,
        )


def _secret_arn(value_from: str) -> str:
    """ "arn:aws:secretsmanager:r:a:secret:name-abc:password::" -> the secret's own ARN."""
    return ":".join(value_from.split(":")[:7])


def _app_containers(args: ServiceArgs) -> Callable[[dict[str, Any]], list[Any]]:
    """`migrate` runs to completion first; `app` starts only if it exited 0."""

    def containers(resolved: dict[str, Any]) -> list[Any]:
        app = _container("app", args, SERVER_COMMAND, resolved, port=True)
        app["dependsOn"] = [{"containerName": "migrate", "condition": "SUCCESS"}]
        migrate = _container("migrate", args, MIGRATE_COMMAND, resolved, port=False)
        # Not essential: it exits when done, which must not stop the task.
        migrate["essential"] = False
        return [app, migrate]

    return containers


def _worker_containers(args: ServiceArgs) -> Callable[[dict[str, Any]], list[Any]]:
    def containers(resolved: dict[str, Any]) -> list[Any]:
        worker = _container("worker", args, WORKER_COMMAND, resolved, port=False)
        worker["healthCheck"] = {
            "command": list(WORKER_HEALTH_COMMAND),
            "interval": 30,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 60,
        }
        return [worker]

    return containers


def _container(
    role: str, args: ServiceArgs, command: Sequence[str], resolved: dict[str, Any], port: bool
) -> dict[str, Any]:
    definition: dict[str, Any] = {
        "name": role,
        "image": resolved["image"],
        "essential": True,
        "command": list(command),
        "stopTimeout": args.stop_timeout_seconds,
        "environment": [{"name": k, "value": str(v)} for k, v in sorted(resolved["env"].items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(resolved["secrets"].items())],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": resolved["log_group"],
                "awslogs-region": args.region,
                "awslogs-stream-prefix": role,
                "mode": "non-blocking",
                "max-buffer-size": "25m",
            },
        },
        "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
    }
    if port:
        definition["portMappings"] = [
            {"containerPort": APP_PORT, "protocol": "tcp", "name": "http"}
        ]
    return definition
