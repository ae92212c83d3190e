"""CloudWatch alarms on the signals that precede an outage, sent to one SNS topic, and a dashboard."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi_aws as aws

import pulumi


@dataclass(frozen=True)
class MonitoringArgs:
    region: str
    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    service_name: pulumi.Input[str]
    database_primary_id: pulumi.Input[str]
    database_replica_ids: Sequence[pulumi.Input[str]] = ()
    cache_cluster_ids: Sequence[str] = ()
    broker_name: pulumi.Input[str] | None = None
    # Where the worker reports JobsQueueDepth (METRICS_NAMESPACE, dimension Service=SERVICE_NAME):
    # the backlog alarm works for either broker, Amazon MQ or Redis.
    metrics_namespace: str | None = None
    metrics_service: str | None = None
    alarm_email: str | None = None
    alb_5xx_per_minute: int = 10
    p99_latency_seconds: float = 1.0
    database_cpu_percent: int = 80
    replica_lag_seconds: int = 30
    database_free_storage_gib: int = 10
    cache_evictions_per_minute: int = 100
    cache_engine_cpu_percent: int = 80
    broker_queue_depth: int = 10_000
    tags: Mapping[str, str] = field(default_factory=dict)


class Monitoring(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str]
    dashboard_name: pulumi.Output[str]
    alarm_names: list[str]

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("tenfold:monitoring:Monitoring", name, None, opts)
        self._name = name
        self._child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        # Not encrypted with alias/aws/sns: CloudWatch cannot publish to topics under that key.
        topic = aws.sns.Topic(f"{name}-alarms", tags=tags, opts=self._child)
        if args.alarm_email:
            aws.sns.TopicSubscription(
                f"{name}-alarms-email",
                topic=topic.arn,
                protocol="email",
                endpoint=args.alarm_email,
                opts=self._child,
            )
        self._topic = topic
        self.alarm_names = []
        self._load_balancer_alarms(args)
        self._database_alarms(args)
        self._cache_alarms(args)
        self._queue_alarms(args)
        dashboard = self._dashboard(args)
        self.topic_arn = topic.arn
        self.dashboard_name = dashboard.dashboard_name
        self.register_outputs({"topic_arn": self.topic_arn, "dashboard_name": self.dashboard_name})

    def _load_balancer_alarms(self, args: MonitoringArgs) -> None:
        """5xx from the balancer and from the service, p99 latency, tasks failing /readyz."""
        alb = {"LoadBalancer": args.alb_arn_suffix}
        target = {"LoadBalancer": args.alb_arn_suffix, "TargetGroup": args.target_group_arn_suffix}

        self._alarm(
            "alb-5xx",
            "AWS/ApplicationELB",
            "HTTPCode_ELB_5XX_Count",
            alb,
            "Sum",
            args.alb_5xx_per_minute,
            "The load balancer returns 5xx (no healthy target, timeouts)",
        )
        self._alarm(
            "target-5xx",
            "AWS/ApplicationELB",
            "HTTPCode_Target_5XX_Count",
            target,
            "Sum",
            args.alb_5xx_per_minute,
            "The service answers 5xx",
        )
        self._alarm(
            "p99-latency",
            "AWS/ApplicationELB",
            "TargetResponseTime",
            target,
            "p99",
            args.p99_latency_seconds,
            "p99 response time above target",
            periods=5,
        )
        self._alarm(
            "unhealthy-targets",
            "AWS/ApplicationELB",
            "UnHealthyHostCount",
            target,
            "Maximum",
            0,
            "A task fails /readyz",
        )

    def _database_alarms(self, args: MonitoringArgs) -> None:
        """Primary CPU and free storage; each replica's lag and CPU."""
        self._alarm(
            "database-cpu",
            "AWS/RDS",
            "CPUUtilization",
            {"DBInstanceIdentifier": args.database_primary_id},
            "Average",
            args.database_cpu_percent,
            "Primary database CPU",
            periods=5,
        )
        self._alarm(
            "database-free-storage",
            "AWS/RDS",
            "FreeStorageSpace",
            {"DBInstanceIdentifier": args.database_primary_id},
            "Minimum",
            args.database_free_storage_gib * 1024**3,
            "Primary database storage running out",
            lower=True,
        )
        for i, replica in enumerate(args.database_replica_ids):
            self._alarm(
                f"replica-{i + 1}-lag",
                "AWS/RDS",
                "ReplicaLag",
                {"DBInstanceIdentifier": replica},
                "Maximum",
                args.replica_lag_seconds,
                "Read replica lags: reads see stale data",
                periods=3,
            )
            self._alarm(
                f"replica-{i + 1}-cpu",
                "AWS/RDS",
                "CPUUtilization",
                {"DBInstanceIdentifier": replica},
                "Average",
                args.database_cpu_percent,
                "Read replica CPU",
                periods=5,
            )

    def _cache_alarms(self, args: MonitoringArgs) -> None:
        """Per cache node: evictions of live keys and a busy engine thread."""
        for cluster_id in args.cache_cluster_ids:
            short = cluster_id.rsplit("-", 1)[-1]
            self._alarm(
                f"cache-{short}-evictions",
                "AWS/ElastiCache",
                "Evictions",
                {"CacheClusterId": cluster_id},
                "Sum",
                args.cache_evictions_per_minute,
                "Cache evicts live keys: the node is too small",
                periods=5,
            )
            self._alarm(
                f"cache-{short}-cpu",
                "AWS/ElastiCache",
                "EngineCPUUtilization",
                {"CacheClusterId": cluster_id},
                "Average",
                args.cache_engine_cpu_percent,
                "Cache engine thread busy",
                periods=5,
            )

    def _queue_alarms(self, args: MonitoringArgs) -> None:
        """Jobs piling up, seen by Amazon MQ and by the worker's own queue-depth metric."""
        if args.broker_name is not None:
            self._alarm(
                "broker-queue-depth",
                "AWS/AmazonMQ",
                "MessageCount",
                {"Broker": args.broker_name},
                "Maximum",
                args.broker_queue_depth,
                "Jobs pile up: add workers or look for a poison message",
                periods=5,
            )

        if args.metrics_namespace and args.metrics_service:
            self._alarm(
                "jobs-queue-depth",
                args.metrics_namespace,
                "JobsQueueDepth",
                {"Service": args.metrics_service},
                "Maximum",
                args.broker_queue_depth,
                "Jobs wait in the queue although the worker scales out: look for a poison "
                "message or a slow dependency",
                periods=15,
            )

    def _dashboard(self, args: MonitoringArgs) -> aws.cloudwatch.Dashboard:
        return aws.cloudwatch.Dashboard(
            f"{self._name}-dashboard",
            dashboard_name=self._name,
            dashboard_body=pulumi.Output.all(
                alb=args.alb_arn_suffix,
                tg=args.target_group_arn_suffix,
                cluster=args.cluster_name,
                service=args.service_name,
                db=args.database_primary_id,
                replicas=pulumi.Output.all(*args.database_replica_ids),
            ).apply(
                lambda v: json.dumps(
                    _dashboard(
                        args.region,
                        v,
                        list(args.cache_cluster_ids),
                        (args.metrics_namespace, args.metrics_service),
                    )
                )
            ),
            opts=self._child,
        )

    def _alarm(
        self,
        alarm: str,
        namespace: str,
        metric: str,
        dimensions: Mapping[str, pulumi.Input[str]],
        statistic: str,
        threshold: float,
        description: str,
        periods: int = 3,
        lower: bool = False,
    ) -> None:
        percentile = statistic.startswith("p")
        aws.cloudwatch.MetricAlarm(
            f"{self._name}-{alarm}",
            name=f"{self._name}-{alarm}",
            alarm_description=description,
            namespace=namespace,
            metric_name=metric,
            dimensions=dict(dimensions),
            statistic=None if percentile else statistic,
            extended_statistic=statistic if percentile else None,
            period=60,
            evaluation_periods=periods,
            datapoints_to_alarm=periods,
            threshold=threshold,
            comparison_operator="LessThanThreshold" if lower else "GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[self._topic.arn],
            ok_actions=[self._topic.arn],
            opts=self._child,
        )
        self.alarm_names.append(f"{self._name}-{alarm}")


def _dashboard(
    region: str,
    v: dict[str, Any],
    cache_ids: list[str],
    jobs: tuple[str | None, str | None] = (None, None),
) -> dict[str, Any]:
    def widget(title: str, metrics: list[list[Any]], stat: str = "Average") -> dict[str, Any]:
        return {
            "type": "metric",
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "stat": stat,
                "period": 60,
                "metrics": metrics,
            },
        }

    target = ["LoadBalancer", v["alb"], "TargetGroup", v["tg"]]
    namespace, service = jobs
    queue = (
        [widget("Jobs waiting", [[namespace, "JobsQueueDepth", "Service", service]], "Maximum")]
        if namespace and service
        else []
    )
    return {
        "widgets": [
            *queue,
            widget(
                "Requests and 5xx",
                [
                    ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", v["alb"]],
                    ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", *target],
                    ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", v["alb"]],
                ],
                "Sum",
            ),
            widget(
                "Latency p50 / p99",
                [
                    ["AWS/ApplicationELB", "TargetResponseTime", *target, {"stat": "p50"}],
                    ["AWS/ApplicationELB", "TargetResponseTime", *target, {"stat": "p99"}],
                ],
            ),
            widget(
                "Service CPU / memory",
                [
                    [
                        "AWS/ECS",
                        "CPUUtilization",
                        "ClusterName",
                        v["cluster"],
                        "ServiceName",
                        v["service"],
                    ],
                    [
                        "AWS/ECS",
                        "MemoryUtilization",
                        "ClusterName",
                        v["cluster"],
                        "ServiceName",
                        v["service"],
                    ],
                ],
            ),
            widget(
                "Database CPU",
                [
                    ["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", i]
                    for i in [v["db"], *v["replicas"]]
                ],
            ),
            widget(
                "Replica lag (s)",
                [["AWS/RDS", "ReplicaLag", "DBInstanceIdentifier", i] for i in v["replicas"]]
                or [["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", v["db"]]],
                "Maximum",
            ),
            widget(
                "Cache hits / misses / evictions",
                [
                    ["AWS/ElastiCache", m, "CacheClusterId", c]
                    for c in cache_ids
                    for m in ("CacheHits", "CacheMisses", "Evictions")
                ],
                "Sum",
            ),
        ]
    }
