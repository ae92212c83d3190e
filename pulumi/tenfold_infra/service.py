"""ECS Fargate: the API service behind the ALB and the background worker, both autoscaled.

A deploy is the whole path: each task's `migrate` container runs the Alembic migrations
and exits, and only then does the `app` (or `worker`) container start (dependsOn SUCCESS),
so new code never serves an old schema; `pulumi up` waits for both services to be steady, and the
circuit breaker rolls a crash-looping deployment back (and fails the update).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi_aws as aws

import pulumi

from .knobs import KnobError, knob, one_of, whole
from .load_balancer import IDLE_TIMEOUT_SECONDS
from .security import APP_PORT, METRICS_PORT

SERVER_COMMAND = ("python", "-m", "app.server")
WORKER_COMMAND = ("python", "-m", "app.jobs.worker")
MIGRATE_COMMAND = ("python", "-m", "app.db.migrate")
# Exit 0 while the worker's heartbeat file is fresh: a wedged worker is replaced by ECS.
WORKER_HEALTH_COMMAND = ("CMD", "python", "-m", "app.jobs.health")
# The worker's Embedded Metric Format metric: jobs waiting in the queue.
QUEUE_DEPTH_METRIC = "JobsQueueDepth"
# The service keeps idle connections this much longer than the load balancer does.
IDLE_TIMEOUT_MARGIN_SECONDS = 5


# Memory (MiB) Fargate allows for each CPU size (units of 1/1024 vCPU).
FARGATE_CPU_MEMORY_MIB = {
    256: (512, 2048),
    512: (1024, 4096),
    1024: (2048, 8192),
    2048: (4096, 16384),
    4096: (8192, 30720),
}


@dataclass(frozen=True)
class ServiceSettings:
    """The ECS knobs of a stack (Pulumi.<stack>.yaml); defaults are prod's."""

    # Graviton: about 20% cheaper per vCPU and faster for Python; the image must be built for
    # linux/arm64 (`pulumi up` builds it so).
    cpu_architecture: Literal["ARM64", "X86_64"] = knob(
        "cpuArchitecture", "ARM64", one_of("ARM64", "X86_64")
    )
    cpu: int = knob("appCpu", 1024, whole(256, 4096, tuple(FARGATE_CPU_MEMORY_MIB)), dev=256)
    memory_mib: int = knob(
        "appMemoryMib", 2048, whole(512, 30720), dev=512, doc="within Fargate's range for appCpu"
    )
    min_tasks: int = knob("appMinTasks", 2, whole(1, 100), dev=1)
    max_tasks: int = knob("appMaxTasks", 10, whole(1, 100), dev=2)
    worker_min_tasks: int = knob("workerMinTasks", 2, whole(0, 100), dev=1)
    worker_max_tasks: int = knob("workerMaxTasks", 6, whole(1, 100), dev=1)

    def __post_init__(self) -> None:
        low, high = FARGATE_CPU_MEMORY_MIB[self.cpu]
        if not low <= self.memory_mib <= high:
            raise KnobError(
                "appMemoryMib", f"must be a whole number from {low} to {high}", self.memory_mib
            )
        if self.max_tasks < self.min_tasks:
            raise KnobError(
                "appMaxTasks", f"must be at least appMinTasks ({self.min_tasks})", self.max_tasks
            )
        if self.worker_max_tasks < self.worker_min_tasks:
            raise KnobError(
                "workerMaxTasks",
                f"must be at least workerMinTasks ({self.worker_min_tasks})",
                self.worker_max_tasks,
            )


@dataclass(frozen=True)
class ServiceArgs:
    # "<repository>:<tag>" or "<repository>@sha256:...": never `latest`, never untagged.
    image: pulumi.Input[str]
    region: str
    subnet_ids: Sequence[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    log_retention_days: int
    target_group_arn: pulumi.Input[str]
    # "<alb arn_suffix>/<target group arn_suffix>", the ALBRequestCountPerTarget label.
    request_count_label: pulumi.Input[str]
    # Plain settings (DATABASE_URL, REDIS_URL...) and Secrets Manager references ("arn" or "arn:key::").
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    secrets: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    settings: ServiceSettings = field(default_factory=ServiceSettings)
    worker_cpu: int = 512
    worker_memory_mib: int = 1024
    target_cpu_percent: float = 60.0
    # Requests per task per minute the ALB may send before a task is added.
    target_requests_per_task: int = 1000
    # Seconds a stopping task gets to finish in-flight work after SIGTERM.
    stop_timeout_seconds: int = 30
    # The connection budget of one task (SERVER_MAX_CONNECTIONS): the ALB opens one
    # connection per request it has in flight to a target and keeps them idle for its idle
    # timeout, so this bounds the requests one task serves at once; scaling out keeps the
    # load per task far below it (target_requests_per_task).
    max_connections_per_task: int = 256
    # The load balancer's idle timeout: the service keeps idle connections (and waits for
    # request heads, which the ALB only forwards whole) longer, so the ALB closes first.
    load_balancer_idle_timeout_seconds: int = IDLE_TIMEOUT_SECONDS
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
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)
        self._tags = dict(args.tags)

        cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value="enhanced")],
            tags=self._tags,
            opts=self._child,
        )
        self._logs = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/ecs/{name}",
            retention_in_days=args.log_retention_days,
            tags=self._tags,
            opts=self._child,
        )
        self._execution_role = self._secret_reading_execution_role()
        self._task_role = self._role("task", "ecs-tasks.amazonaws.com", self._tags)

        app = self._ecs_service(
            "app",
            cluster,
            self._task_definition(
                "app", args.settings.cpu, args.settings.memory_mib, _app_containers(args)
            ),
            args.settings.min_tasks,
            health_check_grace_period_seconds=args.health_check_grace_seconds,
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=args.target_group_arn,
                    container_name="app",
                    container_port=APP_PORT,
                )
            ],
        )
        worker = self._ecs_service(
            "worker",
            cluster,
            self._task_definition(
                "worker", args.worker_cpu, args.worker_memory_mib, _worker_containers(args)
            ),
            args.settings.worker_min_tasks,
        )
        self._autoscaling(cluster, app, worker)

        self.cluster_name = cluster.name
        self.service_name = app.name
        self.worker_service_name = worker.name
        self.log_group_name = self._logs.name
        self.task_role_arn = self._task_role.arn
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "service_name": self.service_name,
                "worker_service_name": self.worker_service_name,
                "log_group_name": self.log_group_name,
            }
        )

    def _secret_reading_execution_role(self) -> aws.iam.Role:
        """The role ECS starts tasks with: pull the image, write logs, and read exactly the
        secrets the task names, nothing else."""
        name, args = self._name, self._args
        execution_role = self._role("execution", "ecs-tasks.amazonaws.com", self._tags)
        aws.iam.RolePolicyAttachment(
            f"{name}-execution",
            role=execution_role.name,
            policy_arn="arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
            opts=self._child,
        )
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
            opts=self._child,
        )
        return execution_role

    def _task_definition(
        self, role: str, cpu: int, memory: int, containers: Callable[[dict[str, Any]], list[Any]]
    ) -> aws.ecs.TaskDefinition:
        args = self._args
        environment = {
            **dict(args.environment),
            "METRICS_NAMESPACE": args.metrics_namespace,
            "SERVICE_NAME": args.metrics_service,
            "SERVER_MAX_CONNECTIONS": str(args.max_connections_per_task),
            "SERVER_IDLE_TIMEOUT_SECONDS": str(
                args.load_balancer_idle_timeout_seconds + IDLE_TIMEOUT_MARGIN_SECONDS
            ),
        }
        container = pulumi.Output.all(
            env=pulumi.Output.all(**environment),
            secrets=pulumi.Output.all(**dict(args.secrets)),
            log_group=self._logs.name,
            image=args.image,
        ).apply(lambda v: json.dumps(containers(v)))
        return aws.ecs.TaskDefinition(
            f"{self._name}-{role}",
            family=f"{self._name}-{role}",
            cpu=str(cpu),
            memory=str(memory),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            execution_role_arn=self._execution_role.arn,
            task_role_arn=self._task_role.arn,
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                cpu_architecture=args.settings.cpu_architecture, operating_system_family="LINUX"
            ),
            container_definitions=container,
            tags=self._tags,
            opts=self._child,
        )

    def _ecs_service(
        self,
        role: str,
        cluster: aws.ecs.Cluster,
        task_definition: aws.ecs.TaskDefinition,
        min_tasks: int,
        **extra: Any,
    ) -> aws.ecs.Service:
        """The app and the worker deploy alike; `extra` adds the app's load balancer."""
        return aws.ecs.Service(
            f"{self._name}-{role}",
            cluster=cluster.arn,
            task_definition=task_definition.arn,
            desired_count=min_tasks,
            launch_type="FARGATE",
            platform_version="LATEST",
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=list(self._args.subnet_ids),
                security_groups=[self._args.security_group_id],
                assign_public_ip=False,
            ),
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(
                enable=True, rollback=True
            ),
            # `pulumi up` fails instead of reporting success while tasks crash-loop.
            wait_for_steady_state=True,
            # Start new tasks before stopping old ones: full capacity during deploys.
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            availability_zone_rebalancing="ENABLED",
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            tags=self._tags,
            # Autoscaling owns the running count once the service exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCount"]),
            **extra,
        )

    def _autoscaling(
        self, cluster: aws.ecs.Cluster, app: aws.ecs.Service, worker: aws.ecs.Service
    ) -> None:
        """The app on CPU and requests per task; the worker on CPU and queue backlog per task."""
        args = self._args
        app_target = self._scaling_target(
            "app", cluster, app, args.settings.min_tasks, args.settings.max_tasks
        )
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
            "worker",
            cluster,
            worker,
            args.settings.worker_min_tasks,
            args.settings.worker_max_tasks,
        )
        self._target_tracking(
            "worker-cpu", worker_target, "ECSServiceAverageCPUUtilization", args.target_cpu_percent
        )
        self._queue_depth_tracking(worker_target, cluster, worker, args)

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
    """The worker runs new jobs' code only on the new schema: it waits for `migrate` too (a
    no-op under the migration lock when the app's task migrated first)."""

    def containers(resolved: dict[str, Any]) -> list[Any]:
        worker = _container("worker", args, WORKER_COMMAND, resolved, port=False)
        worker["healthCheck"] = {
            "command": list(WORKER_HEALTH_COMMAND),
            "interval": 30,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 60,
        }
        worker["dependsOn"] = [{"containerName": "migrate", "condition": "SUCCESS"}]
        migrate = _container("migrate", args, MIGRATE_COMMAND, resolved, port=False)
        migrate["essential"] = False
        return [worker, migrate]

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
            {"containerPort": APP_PORT, "protocol": "tcp", "name": "http"},
            # /metrics alone; no target group points here (security.METRICS_PORT).
            {"containerPort": METRICS_PORT, "protocol": "tcp", "name": "metrics"},
        ]
    return definition
