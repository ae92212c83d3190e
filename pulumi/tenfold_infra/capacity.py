"""Capacity planner: size a stack for a request rate from the CPU time a request costs.

`python -m tenfold_infra capacity --rps 5000 [--read-share 0.9] [--p99-ms 100] [--stack prod]`
from infra/. Server CPU ms per request and req/s by route class come from the published
`make bench` results (bench_published.json, a copy of docs/assets/benchmarks.json) or a
user's build/bench/results.json. A task serves its vCPUs x target utilisation x 1000 / the
mix's CPU ms a request: on the bench machine the load generator shares the cores with the
server, so the measured req/s undercounts what a task serves; the req/s-based figure is
printed beside it, and used only when a bench has no CPU column. Every number not measured
there is an assumption named in the output. The plan is printed as a diff against
Pulumi.<stack>.yaml; `--apply` writes it.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import COMPONENT_SETTINGS, StackConfig
from .knobs import knobs_of

BENCH = Path(__file__).with_name("bench_published.json")
ROUTES = {
    "cached read": "item-read-cached",
    "uncached read": "item-read-uncached",
    "write": "write-with-job",
    "job (worker)": "write-inline",
}
# AWS's documented default for RDS for PostgreSQL:
# max_connections = LEAST({DBInstanceClassMemory/9531392}, 5000)
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html#RDS_Limits.MaxConnections
PG_CONNECTION_BYTES = 9531392
PG_CONNECTION_CAP = 5000
GIB = 1024**3
# Instance specs (vCPU, memory GiB) as AWS publishes them for each class.
DB_CLASSES = {
    "db.r7g.large": (2, 16),
    "db.r7g.xlarge": (4, 32),
    "db.r7g.2xlarge": (8, 64),
    "db.r7g.4xlarge": (16, 128),
    "db.r7g.8xlarge": (32, 256),
    "db.r7g.12xlarge": (48, 384),
    "db.r7g.16xlarge": (64, 512),
}
CACHE_NODES = {  # node type: (vCPU, assumed ops/s one node serves)
    "cache.r7g.large": (2, 100_000),
    "cache.r7g.xlarge": (4, 150_000),
    "cache.r7g.2xlarge": (8, 200_000),
    "cache.r7g.4xlarge": (16, 250_000),
}
# Instance type: assumed persistent messages/s a three-node quorum-queue cluster sustains.
# The planner starts at large: the template runs prod brokers as CLUSTER_MULTI_AZ.
BROKERS = {
    "mq.m7g.large": 2_000,
    "mq.m7g.xlarge": 4_000,
    "mq.m7g.2xlarge": 8_000,
    "mq.m7g.4xlarge": 16_000,
}
MAX_TASKS = 100  # the bound of the appMaxTasks / workerMaxTasks knobs (service.py)
MAX_REPLICAS = 5  # the bound of the readReplicas knob (database.py)
TASK_CPU, TASK_MEMORY_MIB = 1024, 2048  # app.server runs one process: it uses one vCPU
TASK_VCPUS = TASK_CPU / 1024
WORKER_VCPU = 0.5  # the worker task's fixed size (service.py)
REDIS_MAXCLIENTS = 65_000  # ElastiCache's maxclients, every node type


@dataclass(frozen=True)
class Assumptions:
    """What the plan assumes beyond the measured figures; each is a flag."""

    target_utilisation: float = 0.6
    utilisation_after_az_loss: float = 0.9
    cache_hit_ratio: float = 0.8
    pg_reads_per_vcpu: float = 1_500.0
    pg_writes_per_vcpu: float = 400.0
    pool_per_process: int = 20  # DATABASE_POOL_SIZE 10 + DATABASE_MAX_OVERFLOW 10
    redis_connections_per_process: int = 256  # at most one per in-flight request


class Impossible(Exception):
    """The request cannot be met: the message names the limit hit and what would lift it.
    `plan` holds what was worked out before the limit (the per-task throughput), if any."""

    plan: Plan | None = None


@dataclass(frozen=True)
class Route:
    name: str
    requests_per_second: float  # measured, per server process
    server_cpu_ms: float | None  # server CPU time a request (None: the bench has no CPU column)
    p99_ms: float

    @property
    def service_ms(self) -> float:
        """Wall time a request holds one process, from the measured req/s."""
        return 1000 / self.requests_per_second


@dataclass(frozen=True)
class Bench:
    source: str
    date: str
    routes: dict[str, Route]


def load_bench(path: Path = BENCH) -> Bench:
    data = json.loads(path.read_text())
    results = {r["name"]: r for r in data.get("results", [])}
    missing = [name for name in ROUTES.values() if name not in results]
    if missing:
        raise ValueError(
            f"{path}: no results for {', '.join(missing)}; run a full `make bench` "
            "(BENCH_SMOKE=1 skips nothing but is short) and pass build/bench/results.json"
        )
    # A run with several server processes reports their sum; the planner sizes one process.
    processes = int(data.get("run", {}).get("server_processes", 1)) or 1
    routes = {
        label: Route(
            name,
            float(results[name]["requests_per_second"]) / processes,
            None if cpu is None else float(cpu),
            float(results[name]["p99_ms"]),
        )
        for label, name in ROUTES.items()
        for cpu in [results[name].get("server_cpu_ms")]
    }
    return Bench(str(path), str(data.get("run", {}).get("generated_at", "undated")), routes)


def max_connections(db_class: str) -> int:
    """RDS for PostgreSQL's default max_connections for a class, from AWS's formula; uses the
    class's whole memory, an upper bound (DBInstanceClassMemory is that less the OS's share)."""
    _, memory_gib = DB_CLASSES[db_class]
    return min(memory_gib * GIB // PG_CONNECTION_BYTES, PG_CONNECTION_CAP)


@dataclass
class Plan:
    rps: float
    read_share: float
    p99_ms: float
    az_count: int
    broker: str
    bench: Bench
    assumptions: Assumptions
    # What one app task serves at 100% of its vCPUs: from CPU time, and from measured req/s.
    per_task_rps_cpu: float | None = None
    per_task_rps_measured: float = 0.0
    basis: str = "cpu"  # which of the two the plan sizes by: "cpu" or "req/s"
    mix_cpu_ms: float | None = None
    utilisation: float = 0.0
    app_min: int = 0
    app_max: int = 0
    worker_min: int = 0
    worker_max: int = 0
    db_class: str = ""
    replicas: int = 0
    cache_node: str = ""
    broker_type: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def per_task_rps(self) -> float:
        """The figure the plan sizes by."""
        if self.basis == "cpu" and self.per_task_rps_cpu is not None:
            return self.per_task_rps_cpu
        return self.per_task_rps_measured

    @property
    def config(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "appCpu": TASK_CPU,
            "appMemoryMib": TASK_MEMORY_MIB,
            "appMinTasks": self.app_min,
            "appMaxTasks": self.app_max,
            "workerMinTasks": self.worker_min,
            "workerMaxTasks": self.worker_max,
            "dbInstanceClass": self.db_class,
            "readReplicas": self.replicas,
            "cacheNodeType": self.cache_node,
        }
        if self.broker_type:
            values["brokerInstanceType"] = self.broker_type
        return values


def _smallest(options: dict[str, float], need: float, what: str, lift: str) -> str:
    for name, capacity in options.items():
        if need <= capacity:
            return name
    largest = list(options)[-1]
    raise Impossible(
        f"{what} needs {need:,.0f}, beyond the largest option {largest} "
        f"({options[largest]:,.0f}); {lift}"
    )


def plan(
    rps: float,
    read_share: float = 0.9,
    p99_ms: float = 100.0,
    az_count: int = 3,
    broker: str = "rabbitmq",
    bench: Bench | None = None,
    assumptions: Assumptions | None = None,
) -> Plan:
    """Size app tasks, workers, database, cache and broker for `rps` at `read_share` reads."""
    if rps <= 0 or not 0 <= read_share <= 1 or p99_ms <= 0:
        raise ValueError("RPS must be > 0, READ_SHARE from 0 to 1 and P99_MS > 0")
    a, b = assumptions or Assumptions(), bench or load_bench()
    p = Plan(rps, read_share, p99_ms, az_count, broker, b, a)
    r = b.routes
    hit = a.cache_hit_ratio
    shares = {
        "cached read": read_share * hit,
        "uncached read": read_share * (1 - hit),
        "write": 1 - read_share,
    }
    mix = {label: share for label, share in shares.items() if share}
    # Measured: one process serves the mix at the harmonic mean of its routes' req/s.
    mean_ms = sum(share * r[label].service_ms for label, share in mix.items())
    p.per_task_rps_measured = 1000 / mean_ms
    cpu = {label: r[label].server_cpu_ms for label in mix}
    if all(ms is not None and ms > 0 for ms in cpu.values()):
        # From CPU time: a task's vCPUs x 1000 ms / the mix's CPU ms a request.
        p.mix_cpu_ms = sum(share * float(cpu[label] or 0) for label, share in mix.items())
        p.per_task_rps_cpu = TASK_VCPUS * 1000 / p.mix_cpu_ms
        service_ms, slowest = p.mix_cpu_ms / TASK_VCPUS, max(float(v or 0) for v in cpu.values())
    else:
        p.basis = "req/s"
        p.notes.append("the bench has no server CPU column: the plan sizes by measured req/s")
        service_ms, slowest = mean_ms, max(r[label].service_ms for label in mix)
    # M/M/1 waiting time: p99 of the wait is ln(100) x mean service / (1 - utilisation);
    # a request's p99 is that plus its own service time.
    if p99_ms <= slowest:
        raise Impossible(
            f"P99_MS={p99_ms:g} is below the {slowest:.1f} ms a task spends on the slowest "
            "route class even with no queue; make that route cheaper or relax P99_MS"
        )
    p99_bound = 1 - math.log(100) * service_ms / (p99_ms - slowest)
    if p99_bound <= 0.05:
        raise Impossible(
            f"P99_MS={p99_ms:g} leaves no room to queue (utilisation <= {max(p99_bound, 0):.0%}); "
            "relax P99_MS or make the routes cheaper"
        )
    p.utilisation = min(a.target_utilisation, p99_bound)
    if p99_bound < a.target_utilisation:
        p.notes.append(f"P99_MS={p99_ms:g} lowers the target utilisation to {p99_bound:.0%}")

    try:
        _size(p, rps, read_share, az_count, broker)
    except Impossible as limit:
        limit.plan = p
        raise
    return p


def _size(p: Plan, rps: float, read_share: float, az_count: int, broker: str) -> None:
    """Tasks, workers, database, cache and broker for `p`'s per-task throughput."""
    a, r, hit = p.assumptions, p.bench.routes, p.assumptions.cache_hit_ratio
    n = az_count
    steady = math.ceil(rps / (p.per_task_rps * p.utilisation))
    after_loss = math.ceil(rps / (p.per_task_rps * a.utilisation_after_az_loss))
    p.app_min = max(n * math.ceil(steady / n), n * math.ceil(after_loss / (n - 1)))
    p.app_max = min(MAX_TASKS, 2 * p.app_min)
    if p.app_min > MAX_TASKS:
        raise Impossible(
            f"{rps:,.0f} req/s needs {p.app_min} app tasks of one server process each "
            f"({p.per_task_rps * p.utilisation:,.0f} req/s a task at {p.utilisation:.0%}), beyond "
            f"appMaxTasks {MAX_TASKS} (this stack's config bound; ECS allows 5,000 tasks a "
            "service). Lift: raise the appMaxTasks bound in tenfold_infra/service.py, make "
            "routes cheaper (a higher cache hit ratio, CloudFront s-maxage on public reads), "
            "or split the traffic across stacks"
        )

    writes = rps * (1 - read_share)
    job = r["job (worker)"]
    if p.basis == "cpu" and job.server_cpu_ms:
        worker_rate = WORKER_VCPU * p.utilisation * 1000 / job.server_cpu_ms
    else:  # measured: one process at one vCPU, scaled to the worker's share of a vCPU
        worker_rate = job.requests_per_second * WORKER_VCPU * p.utilisation
    p.worker_min = max(n, math.ceil(writes / worker_rate)) if writes else n
    p.worker_max = min(MAX_TASKS, 2 * p.worker_min)

    connections = (p.app_max + p.worker_max) * a.pool_per_process
    write_caps = {c: a.pg_writes_per_vcpu * v * p.utilisation for c, (v, _) in DB_CLASSES.items()}
    p.db_class = _smallest(
        write_caps,
        writes,
        "the write rate (writes/s) on one primary",
        "lift: shard writes across databases, batch them through the outbox, or move to "
        "Aurora PostgreSQL (Limitless Database shards writes)",
    )
    ladder = list(DB_CLASSES)
    start = ladder.index(p.db_class)
    p.db_class = _smallest(
        {c: float(max_connections(c)) for c in ladder[start:]},
        connections,
        f"the primary's connections ((app {p.app_max} + workers {p.worker_max}) tasks x pool "
        f"{a.pool_per_process})",
        "lift: put RDS Proxy or PgBouncer in front, or lower DATABASE_POOL_SIZE",
    )
    uncached = rps * read_share * (1 - hit)
    for db_class in ladder[ladder.index(p.db_class) :]:
        vcpu, _ = DB_CLASSES[db_class]
        replicas = max(1, math.ceil(uncached / (a.pg_reads_per_vcpu * vcpu * p.utilisation)))
        if replicas <= MAX_REPLICAS and p.app_max * a.pool_per_process <= max_connections(db_class):
            p.db_class, p.replicas = db_class, replicas
            break
    else:
        raise Impossible(
            f"{uncached:,.0f} uncached reads/s need more than {MAX_REPLICAS} replicas of the "
            "largest class; lift: a higher cache hit ratio, Aurora PostgreSQL (15 readers), "
            "or sharding"
        )

    ops = rps * read_share * (2 - hit) + 2 * writes + (3 * writes if broker == "redis" else 0)
    p.cache_node = _smallest(
        {c: cap * p.utilisation for c, (_, cap) in CACHE_NODES.items()},
        ops,
        "Redis operations/s on the primary node",
        "lift: cluster mode (shards), or an in-process copy of hot keys",
    )
    redis_clients = (p.app_max + p.worker_max) * a.redis_connections_per_process
    if redis_clients > REDIS_MAXCLIENTS:
        raise Impossible(
            f"{redis_clients:,} Redis connections exceed ElastiCache's maxclients "
            f"{REDIS_MAXCLIENTS:,}; lift: lower SERVER_MAX_CONNECTIONS or shard the cache"
        )
    if broker == "rabbitmq":
        p.broker_type = _smallest(
            {t: cap * p.utilisation for t, cap in BROKERS.items()},
            writes,
            "jobs/s through the broker",
            "lift: broker=redis, or several brokers with the queues spread across them",
        )


def explain_throughput(p: Plan) -> list[str]:
    """The measured figures, what one task serves (from CPU time and from req/s), and which
    the plan uses: printed even when the plan cannot be met."""
    a, r = p.assumptions, p.bench.routes
    lines = [
        f"Capacity plan for {p.rps:,.0f} req/s ({p.read_share:.0%} reads, p99 <= {p.p99_ms:g} ms, "
        f"{p.az_count} AZs)",
        f"Measured per server process (make bench of {p.bench.date}, {Path(p.bench.source).name}):",
    ]
    lines += [
        f"  {label:<14} {route.requests_per_second:>8,.1f} req/s  "
        + ("   no CPU column" if route.server_cpu_ms is None else f"{route.server_cpu_ms:>5.2f} ms")
        + f" CPU/req  p99 {route.p99_ms:g} ms at saturation  ({route.name})"
        for label, route in r.items()
    ]
    measured = f"{p.per_task_rps_measured:,.0f} req/s from the bench's measured req/s"
    if p.per_task_rps_cpu is not None:
        lines += [
            f"Mix: {a.cache_hit_ratio:.0%} of reads hit the cache; a request costs "
            f"{p.mix_cpu_ms:.2f} ms of server CPU on average",
            f"Per task ({TASK_VCPUS:g} vCPU, 100% busy): {p.per_task_rps_cpu:,.0f} req/s from CPU "
            f"time ({TASK_VCPUS:g} x 1000 / {p.mix_cpu_ms:.2f} ms), beside {measured}",
            "  the plan uses CPU time: on the bench machine the load generator shares the "
            "cores with the server, so its req/s undercounts what a task serves",
        ]
    else:
        lines.append(
            f"Mix: {a.cache_hit_ratio:.0%} of reads hit the cache; per task: {measured} (the "
            "plan uses it: the bench has no CPU column)"
        )
    lines += [
        f"Headroom: {p.utilisation:.0%} target utilisation; after losing 1 of {p.az_count} AZs "
        f"the rest run at <= {a.utilisation_after_az_loss:.0%}",
        *[f"  note: {note}" for note in p.notes],
    ]
    return lines


def explain(p: Plan) -> list[str]:
    a = p.assumptions
    writes = p.rps * (1 - p.read_share)
    uncached = p.rps * p.read_share * (1 - a.cache_hit_ratio)
    primary_conns = (p.app_max + p.worker_max) * a.pool_per_process
    return [
        *explain_throughput(p),
        f"App: {p.app_min} tasks min, {p.app_max} max, {TASK_CPU} CPU / {TASK_MEMORY_MIB} MiB "
        f"(app.server is one process: one vCPU a task; {p.per_task_rps * p.utilisation:,.0f} "
        f"req/s a task at {p.utilisation:.0%})",
        f"Workers: {p.worker_min} min, {p.worker_max} max for {writes:,.0f} jobs/s (a job costs "
        f"at most the inline write, {_job_cost(p)}; {WORKER_VCPU:g} vCPU a task)",
        f"Database: primary {p.db_class} (Multi-AZ) for {writes:,.0f} writes/s, {p.replicas} read "
        f"replica(s) for {uncached:,.0f} uncached reads/s (assumed {a.pg_writes_per_vcpu:g} "
        f"writes, {a.pg_reads_per_vcpu:g} reads a vCPU per second)",
        f"Connections: primary {primary_conns:,} ((app {p.app_max} + workers {p.worker_max}) x "
        f"pool {a.pool_per_process}) of max_connections {max_connections(p.db_class):,} = "
        f"LEAST({DB_CLASSES[p.db_class][1]} GiB/{PG_CONNECTION_BYTES}, {PG_CONNECTION_CAP}); "
        f"each replica {p.app_max * a.pool_per_process:,}",
        f"Cache: {p.cache_node}; Redis connections "
        f"{(p.app_max + p.worker_max) * a.redis_connections_per_process:,} of maxclients "
        f"{REDIS_MAXCLIENTS:,}",
        f"Broker: {p.broker_type} cluster for {writes:,.0f} jobs/s"
        if p.broker_type
        else "Broker: redis (jobs share the cache)",
    ]


def _job_cost(p: Plan) -> str:
    job = p.bench.routes["job (worker)"]
    if p.basis == "cpu" and job.server_cpu_ms:
        return f"{job.server_cpu_ms:g} ms CPU"
    return f"{job.requests_per_second:g}/s a vCPU"


def changes(planned: dict[str, Any], config: StackConfig, raw: Mapping[str, str]) -> dict[str, Any]:
    """The planned keys worth writing: those the stack file already sets, and those whose
    planned value differs from what the stack resolves to now. A stack file holds the copier
    answers and the user's choices, so a plan never copies a tier default into it."""
    current: dict[str, object] = {
        setting.key: getattr(config, name) for name, setting, _ in knobs_of(StackConfig)
    }
    for component in COMPONENT_SETTINGS:
        settings = getattr(config, component)
        current |= {
            setting.key: getattr(settings, name) for name, setting, _ in knobs_of(type(settings))
        }
    return {key: value for key, value in planned.items() if key in raw or current[key] != value}


def apply_to_yaml(text: str, project: str, values: dict[str, Any]) -> str:
    """`text` with each `<project>:<key>:` line set to its planned value (comments kept); a key
    not in the file is added at the end of its config block."""
    lines = text.splitlines()
    for key, value in values.items():
        pattern = re.compile(rf"^(\s*){re.escape(project)}:{key}:\s*[^#\n]*?(\s*#.*)?$")
        for i, line in enumerate(lines):
            match = pattern.match(line)
            if match:
                lines[i] = f"{match.group(1)}{project}:{key}: {value}{match.group(2) or ''}"
                break
        else:
            lines.append(f"  {project}:{key}: {value}")
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def plan_cost(directory: Path, stack: str, planned_yaml: str, rps: float) -> list[str]:
    """The preview's cost estimate of the planned config (run under the same mocks)."""
    from .cost import Traffic
    from .preview import run_preview

    with tempfile.TemporaryDirectory() as scratch:
        shutil.copy(directory / "Pulumi.yaml", scratch)
        (Path(scratch) / f"Pulumi.{stack}.yaml").write_text(planned_yaml)
        result = run_preview(Path(scratch), stack, Traffic(requests_per_second=rps))
    assert result.cost is not None
    return result.cost.render()
