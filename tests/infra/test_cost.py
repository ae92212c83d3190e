"""Cost in the preview, the budget policy, the price snapshot's refresh and the capacity planner."""

from __future__ import annotations

import contextlib
import copy
import functools
import http.server
import json
import math
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from breakage import Breakage, Resources
from rendered_services import REPO, Rendered, rendered
from tenfold_infra import capacity
from tenfold_infra.config import ConfigError, parse_config
from tenfold_infra.cost import Traffic, estimate, load_prices, refresh
from tenfold_infra.cost.estimate import FREE, PRICERS
from tenfold_infra.cost.refresh import RefreshError, parse_offer, rebuild
from tenfold_infra.policies import Resource, evaluate
from tenfold_infra.policies.budget import monthly_budget

DATA = Path(__file__).with_name("data")
PRICED = "domain-3-replicas"  # us-east-1, the region the stored snapshot prices


def test_total_is_the_sum_of_its_parts_and_every_resource_is_accounted_for(
    service: Rendered,
) -> None:
    for stack in ("dev", "prod"):
        preview = service.previews[stack]
        cost = preview["cost"]
        assert cost["total_monthly_usd"] == pytest.approx(
            sum(line["monthly_usd"] for line in cost["lines"]), abs=0.01 * len(cost["lines"])
        )
        accounted = {(x["type"], x["resource"]) for x in cost["lines"] + cost["not_priced"]}
        for r in preview["resources"]:
            billed = r["type"] in PRICERS and not (
                r["type"] == "aws:ec2/vpcEndpoint:VpcEndpoint"
                and r["inputs"].get("vpcEndpointType") == "Gateway"
            )
            if billed:
                assert (r["type"], r["name"]) in accounted, f"{r['type']} {r['name']} missing"
            else:
                assert r["type"] in FREE or r["type"].startswith("tenfold:") or r["type"] in PRICERS
        assert cost["complete"] is (not cost["not_priced"])
        assert all(line["monthly_usd"] > 0 for line in cost["lines"])  # never a silent $0
        if service.answers["aws_region"] != "us-east-1":
            assert not cost["lines"]
            assert {x["reason"] for x in cost["not_priced"]} == {
                f"the price snapshot has no figures for {service.answers['aws_region']}"
            }


def test_priced_region_prices_compute_network_and_balancer() -> None:
    cost = rendered(PRICED).previews["prod"]["cost"]
    items = {(x["type"].split(":")[1], x["item"]) for x in cost["lines"]}
    assert ("ecs/service", "Fargate ARM64 vCPU") in items
    assert ("ec2/natGateway", "NAT gateway hours") in items
    assert ("lb/loadBalancer", "load balancer hours") in items
    nat_hours = [x for x in cost["lines"] if x["item"] == "NAT gateway hours"]
    assert len(nat_hours) == 3
    assert nat_hours[0]["monthly_usd"] == pytest.approx(730 * 0.045)
    mq = [x for x in cost["not_priced"] if x["type"] == "aws:mq/broker:Broker"]
    assert mq
    assert "mq.broker_hour.multi_az.mq.m7g.large" in mq[0]["reason"]
    assert cost["assumptions"]
    assert cost["price_snapshot_date"]


def _resources(stack: dict[str, Any]) -> list[Resource]:
    return [Resource(r["type"], r["name"], r["inputs"]) for r in stack["resources"]]


def app_scales_to_a_hundred_tasks(rs: Resources) -> None:
    for r in rs:
        if r["type"] == "aws:appautoscaling/target:Target" and r["name"].endswith("-app"):
            r["inputs"]["minCapacity"] = 100


BUDGET_BREAKAGE = Breakage("monthly-budget", app_scales_to_a_hundred_tasks, PRICED)


def test_budget_policy_catches_a_stack_grown_past_its_budget() -> None:
    preview = copy.deepcopy(rendered(BUDGET_BREAKAGE.answer_set).previews[BUDGET_BREAKAGE.stack])
    budget = monthly_budget(preview["cost"]["total_monthly_usd"] + 50)
    assert not budget.check(_resources(preview))
    BUDGET_BREAKAGE.apply(preview["resources"])
    problems = budget.check(_resources(preview))
    assert problems
    assert "exceeds monthlyBudget" in problems[0]
    assert "-app" in problems[0]
    assert all(f.passed for f in evaluate(_resources(preview)))  # only the budget fails


def test_monthly_budget_in_the_stack_file_fails_the_preview(tmp_path: Path) -> None:
    root = tmp_path / "service"  # the whole service: the CDN uploads ../app/static
    shutil.copytree(rendered(PRICED).root, root, ignore=shutil.ignore_patterns("__pycache__"))
    infra = root / "infra"
    stack = infra / "Pulumi.prod.yaml"
    stack.write_text(stack.read_text() + "  demo-service:monthlyBudget: 100\n")
    done = subprocess.run(
        [sys.executable, "-m", "tenfold_infra", "preview", "--stack", "prod"],
        cwd=infra,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert "FAIL monthly-budget: estimated at least $" in done.stdout
    assert "policy check failed: monthly-budget" in done.stderr


@pytest.mark.parametrize("value", ["-5", "0", "lots"])
def test_monthly_budget_must_be_a_positive_number(value: str) -> None:
    raw = {"tier": "dev", "monthlyBudget": value}
    with pytest.raises(ConfigError, match="demo:monthlyBudget must be a positive number"):
        parse_config("demo", "dev", raw, "us-east-1")
    assert parse_config("demo", "dev", {"tier": "dev"}, "us-east-1").monthly_budget_usd is None
    ok = parse_config("demo", "dev", {"tier": "dev", "monthlyBudget": "2500"}, "us-east-1")
    assert ok.monthly_budget_usd == 2500


# --- cost-refresh: the AWS Price List offer files ---------------------------------------
# tests/infra/data/price_list/ is a TEST FIXTURE: the Price List's URL layout and offer-file
# format with test SKUs and test prices (not AWS's), served over HTTP on localhost.

PRICE_LIST = DATA / "price_list"
AWS = PRICE_LIST / "offers/v1.0/aws"
FIXTURE_VERSION = "20261115000000"


@contextlib.contextmanager
def serving(root: Path) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _offer(code: str, region: str, version: str = FIXTURE_VERSION) -> dict[str, Any]:
    path = AWS / code / version / region / "index.json"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _figures(code: str, region: str, version: str = FIXTURE_VERSION) -> dict[str, float]:
    offer = _offer(code, region if code != "AmazonCloudFront" else "", version)
    return {k: v["usd"] for k, v in parse_offer(offer, region, "test").items()}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        # Spot and ephemeral-storage usage types are not the on-demand task's.
        (
            "AmazonECS",
            {
                "fargate.vcpu_hour.X86_64": 0.04,
                "fargate.gb_hour.X86_64": 0.0044,
                "fargate.vcpu_hour.ARM64": 0.032,
                "fargate.gb_hour.ARM64": 0.0035,
            },
        ),
        # MySQL and the Multi-AZ storage product are left out (Multi-AZ storage is 2 copies).
        (
            "AmazonRDS",
            {
                "rds.instance_hour.single_az.db.t4g.micro": 0.016,
                "rds.instance_hour.multi_az.db.t4g.micro": 0.032,
                "rds.instance_hour.single_az.db.r7g.large": 0.24,
                "rds.instance_hour.multi_az.db.r7g.large": 0.48,
                "rds.storage_gb_month.single_az.gp3": 0.115,
                "rds.storage_gb_month.single_az.gp2": 0.115,
            },
        ),
        # The $0 "reserved instance applied" dimension is skipped; Memcached is not priced.
        (
            "AmazonElastiCache",
            {
                "elasticache.node_hour.valkey.cache.r7g.large": 0.175,
                "elasticache.node_hour.redis.cache.r7g.large": 0.219,
                "elasticache.node_hour.valkey.cache.t4g.micro": 0.0128,
            },
        ),
        (
            "AmazonMQ",
            {
                "mq.broker_hour.single_az.mq.m7g.large": 0.27,
                "mq.broker_hour.multi_az.mq.m7g.large": 0.81,
            },
        ),
        ("AmazonEC2", {"nat.hour": 0.045, "nat.gb": 0.045}),
        # Endpoint bytes are tiered (1 PB, 4 PB, more): the first tier. GWLB endpoints and
        # idle addresses are other products.
        (
            "AmazonVPC",
            {"vpc_endpoint.az_hour": 0.01, "vpc_endpoint.gb": 0.01, "public_ipv4.hour": 0.005},
        ),
        # Not the trust store's hours, not the network load balancer's.
        ("AWSELB", {"alb.hour": 0.0225, "alb.lcu_hour": 0.008}),
        # Per request in the file, per 10k / per million in the snapshot; shield-protected ACLs
        # are not ours.
        (
            "awswaf",
            {"waf.web_acl_month": 5.0, "waf.rule_month": 1.0, "waf.million_requests": 0.6},
        ),
        ("AWSSecretsManager", {"secretsmanager.secret_month": 0.4}),
        # High-resolution alarms, infrequent-access logs and log storage are other products;
        # the dashboards' free first tier is skipped (the estimate assumes no free tier).
        (
            "AmazonCloudWatch",
            {
                "cloudwatch.alarm_month": 0.1,
                "cloudwatch.dashboard_month": 3.0,
                "cloudwatch.logs_ingest_gb": 0.5,
            },
        ),
        ("AmazonECR", {"ecr.storage_gb_month": 0.1}),
        # Standard storage's first tier (50 TB), not Standard-IA.
        ("AmazonS3", {"s3.storage_gb_month": 0.023}),
        # The US geography for us-east-1: data out's first tier (10 TB); HTTPS, not HTTP.
        ("AmazonCloudFront", {"cloudfront.gb_out": 0.085, "cloudfront.https_10k": 0.01}),
    ],
)
def test_refresh_parses_each_services_offer_file(code: str, expected: dict[str, float]) -> None:
    assert _figures(code, "us-east-1") == pytest.approx(expected)


def test_refresh_prices_by_region() -> None:
    # A product of another region is not this region's; CloudFront prices eu-west-1's
    # viewers at the Europe rate; the RDS excerpt's gp3 storage is tiered: its first tier.
    assert _figures("AmazonRDS", "eu-west-1", "20261101000000") == {
        "rds.instance_hour.single_az.db.r7g.large": 0.25,
        "rds.instance_hour.multi_az.db.r7g.large": 0.5,
        "rds.storage_gb_month.single_az.gp3": 0.125,
    }
    assert _figures("AmazonCloudFront", "eu-west-1") == {
        "cloudfront.gb_out": 0.086,
        "cloudfront.https_10k": pytest.approx(0.012),
    }
    assert _figures("AmazonCloudFront", "sa-east-1") == {}  # no South America product


def _every_priced_type(engine: str, deployment: str) -> list[tuple[str, str, dict[str, Any]]]:
    """One resource of every type the estimator prices, with template-like inputs."""
    return [
        ("aws:ecs/taskDefinition:TaskDefinition", "arm", {"cpu": "512", "memory": "1024",
         "runtimePlatform": {"cpuArchitecture": "ARM64"}}),
        ("aws:ecs/taskDefinition:TaskDefinition", "x86", {"cpu": "256", "memory": "512"}),
        ("aws:ecs/service:Service", "app", {"taskDefinition": "arm", "desiredCount": 2}),
        ("aws:ecs/service:Service", "worker", {"taskDefinition": "x86", "desiredCount": 1}),
        ("aws:rds/instance:Instance", "db", {"instanceClass": "db.r7g.large", "multiAz": True,
         "allocatedStorage": 100, "storageType": "gp3"}),
        ("aws:rds/instance:Instance", "replica", {"instanceClass": "db.t4g.micro"}),
        ("aws:elasticache/replicationGroup:ReplicationGroup", "cache",
         {"engine": engine, "nodeType": "cache.r7g.large", "numCacheClusters": 2}),
        ("aws:mq/broker:Broker", "broker", {"deploymentMode": deployment,
         "hostInstanceType": "mq.m7g.large"}),
        ("aws:ec2/natGateway:NatGateway", "nat", {}),
        ("aws:ec2/eip:Eip", "eip", {}),
        ("aws:ec2/vpcEndpoint:VpcEndpoint", "logs", {"vpcEndpointType": "Interface",
         "subnetIds": ["a", "b"]}),
        ("aws:lb/loadBalancer:LoadBalancer", "alb", {}),
        ("aws:cloudfront/distribution:Distribution", "cdn", {}),
        ("aws:wafv2/webAcl:WebAcl", "waf", {"rules": [{}, {}]}),
        ("aws:secretsmanager/secret:Secret", "secret", {}),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "alarm", {}),
        ("aws:cloudwatch/dashboard:Dashboard", "dashboard", {}),
        ("aws:cloudwatch/logGroup:LogGroup", "logs", {}),
        ("aws:ecr/repository:Repository", "images", {}),
        ("aws:s3/bucket:Bucket", "static", {}),
    ]  # fmt: skip


def test_refresh_fills_every_key_the_estimator_asks_for(tmp_path: Path) -> None:
    snapshot = tmp_path / "prices.json"
    shutil.copy(REPO / "pulumi/tenfold_infra/cost/prices.json", snapshot)
    with serving(PRICE_LIST) as base:
        counts = rebuild(["us-east-1", "eu-west-1", "sa-east-1"], path=snapshot, base=base)
    assert counts == {"us-east-1": 33, "eu-west-1": 7, "sa-east-1": 0}
    book = load_prices("us-east-1", snapshot)
    priced = {typ for typ, _, _ in _every_priced_type("valkey", "SINGLE_INSTANCE")}
    assert priced | {"aws:ecs/taskDefinition:TaskDefinition"} >= set(PRICERS)
    for engine, deployment in (("valkey", "CLUSTER_MULTI_AZ"), ("redis", "SINGLE_INSTANCE")):
        cost = estimate(_every_priced_type(engine, deployment), book, Traffic())
        assert not cost.not_priced, cost.not_priced
        assert {line.type for line in cost.lines} == set(PRICERS)
        assert all("aws-price-list:" in line.basis for line in cost.lines)
    # mq.m7g.large has no eu-west-1 product and WAF no eu-west-1 file: not priced, not $0.
    eu = estimate(
        _every_priced_type("valkey", "CLUSTER_MULTI_AZ"), load_prices("eu-west-1", snapshot)
    )
    missing = {x.reason for x in eu.not_priced}
    assert (
        "no mq.broker_hour.multi_az.mq.m7g.large figure for eu-west-1 in the price snapshot"
        in missing
    )
    assert "no waf.web_acl_month figure for eu-west-1 in the price snapshot" in missing
    assert not load_prices("sa-east-1", snapshot).covers_region


def test_refresh_records_each_figures_offer_version_and_writes_atomically(tmp_path: Path) -> None:
    snapshot = tmp_path / "prices.json"
    shutil.copy(REPO / "pulumi/tenfold_infra/cost/prices.json", snapshot)
    with serving(PRICE_LIST) as base:
        rebuild(["eu-west-1"], path=snapshot, base=base)
    data = json.loads(snapshot.read_text())
    figure = data["regions"]["eu-west-1"]["rds.instance_hour.multi_az.db.r7g.large"]
    assert figure == {"usd": 0.5, "source": "aws-price-list:AmazonRDS:eu-west-1:20261101000000"}
    source = data["sources"][figure["source"]]
    assert source["dated"] == "2026-11-01T00:00:00Z"  # the file's publicationDate
    assert source["page"].endswith("/offers/v1.0/aws/AmazonRDS/20261101000000/eu-west-1/index.json")
    assert "offer version 20261101000000" in source["states"]
    assert "first paid tier" in source["states"]
    assert load_prices("us-east-1", snapshot).get("nat.hour")  # regions not asked for are kept
    assert list(tmp_path.iterdir()) == [snapshot]  # written atomically, no leftovers


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed when the block ends: nothing listens


def test_refresh_offline_names_the_url_and_leaves_the_snapshot(tmp_path: Path) -> None:
    snapshot = tmp_path / "prices.json"
    shutil.copy(REPO / "pulumi/tenfold_infra/cost/prices.json", snapshot)
    before = snapshot.read_bytes()
    base = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(RefreshError) as error:
        rebuild(["us-east-1"], path=snapshot, base=base)
    message = str(error.value)
    assert f"the offer index at {base}/offers/v1.0/aws/index.json" in message
    assert "refused" in message.lower()
    assert "the price snapshot was left unchanged" in message
    assert snapshot.read_bytes() == before
    assert list(tmp_path.iterdir()) == [snapshot]


def test_refresh_stops_at_a_missing_region_file_and_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "price_list"
    shutil.copytree(PRICE_LIST, root)
    (root / f"offers/v1.0/aws/AmazonMQ/{FIXTURE_VERSION}/eu-west-1/index.json").unlink()
    snapshot = tmp_path / "prices.json"
    shutil.copy(REPO / "pulumi/tenfold_infra/cost/prices.json", snapshot)
    before = snapshot.read_bytes()
    with serving(root) as base, pytest.raises(RefreshError) as error:
        rebuild(["us-east-1", "eu-west-1"], path=snapshot, base=base)
    assert f"for AmazonMQ eu-west-1 at {base}/offers/v1.0/aws/AmazonMQ/" in str(error.value)
    assert snapshot.read_bytes() == before


def test_offer_files_are_read_as_a_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    path = AWS / f"AmazonElastiCache/{FIXTURE_VERSION}/us-east-1/index.json"
    monkeypatch.setattr(refresh._Stream, "chunk", 7)  # values cut at every boundary
    with path.open("rb") as raw:
        streamed = refresh.read_offer(raw, lambda p: p["attributes"]["cacheEngine"] == "Redis")
    whole = json.loads(path.read_text())
    (sku,) = streamed["products"]
    assert streamed["products"][sku] == whole["products"][sku]
    assert streamed["terms"] == {"OnDemand": {sku: whole["terms"]["OnDemand"][sku]}}
    assert streamed["version"] == whole["version"] == FIXTURE_VERSION


def test_refresh_covers_copiers_regions_and_rejects_others() -> None:
    copier = (REPO / "copier.yml").read_text()
    start = copier.index("{% set regions = [")
    listed = copier[start : copier.index("] %}", start)]
    assert tuple(re.findall(r"'([a-z0-9-]+)'", listed)) == refresh.REGIONS
    done = subprocess.run(
        [sys.executable, "-m", "tenfold_infra", "cost-refresh", "--region", "xx-nowhere-1"],
        cwd=REPO / "pulumi",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "xx-nowhere-1 is not a region the template supports" in done.stderr


def test_every_snapshot_figure_names_a_recorded_source() -> None:
    data = json.loads((REPO / "pulumi/tenfold_infra/cost/prices.json").read_text())
    assert data["date"]
    assert data["sources"]
    for figures in data["regions"].values():
        for key, figure in figures.items():
            assert figure["usd"] > 0, key
            assert figure["source"] in data["sources"], key


def test_an_unpriced_region_prices_nothing_and_says_why() -> None:
    cost = estimate(
        [("aws:ec2/natGateway:NatGateway", "nat", {})], load_prices("eu-west-1"), Traffic()
    )
    assert cost.total_usd == 0
    assert not cost.lines
    assert "has no figures for eu-west-1" in cost.not_priced[0].reason
    assert cost.summary() == "unknown: nothing is priced in eu-west-1"


# --- capacity planner -----------------------------------------------------------------


def test_max_connections_follows_aws_formula() -> None:
    # LEAST({DBInstanceClassMemory/9531392}, 5000), memory in bytes.
    assert capacity.max_connections("db.r7g.large") == 16 * 1024**3 // 9531392 == 1802
    assert capacity.max_connections("db.r7g.xlarge") == 3604
    assert capacity.max_connections("db.r7g.16xlarge") == 5000  # the cap, not 57,679


def bench(
    cached: float = 1000, uncached: float = 500, write: float = 100, job: float = 200
) -> capacity.Bench:
    rates = {"cached read": cached, "uncached read": uncached, "write": write, "job (worker)": job}
    return capacity.Bench(
        "hand", "2026-01-01", {k: capacity.Route(k, v, 1000 / v, 0.0) for k, v in rates.items()}
    )


def test_plan_matches_a_hand_worked_case() -> None:
    # Mean service time: 0.9 x (0.8 x 1 ms + 0.2 x 2 ms) + 0.1 x 10 ms = 2.08 ms -> 480.8 req/s.
    p = capacity.plan(1000, 0.9, 100, az_count=3, bench=bench())
    assert p.per_process_rps == pytest.approx(1000 / 2.08)
    assert p.utilisation == 0.6  # the p99 bound, 1 - ln(100) x 2.08 / (100 - 10) = 0.89, is looser
    # Steady: ceil(1000 / (480.8 x 0.6)) = 4 -> 6 (a multiple of 3 AZs); after losing an AZ:
    # ceil(1000 / (480.8 x 0.9)) = 3 on 2 AZs -> 2 a zone -> 6.
    assert (p.app_min, p.app_max) == (6, 12)
    # 100 jobs/s / (200 x 0.5 vCPU x 0.6) = 1.67 -> 2, at least one a zone -> 3.
    assert (p.worker_min, p.worker_max) == (3, 6)
    # 100 writes/s <= 400 x 2 vCPU x 0.6 = 480; 180 uncached reads/s <= 1500 x 2 x 0.6.
    assert (p.db_class, p.replicas) == ("db.r7g.large", 1)
    assert p.cache_node == "cache.r7g.large"
    assert p.broker_type == "mq.m7g.large"
    assert p.config["appMinTasks"] == 6
    assert p.config["readReplicas"] == 1


def test_a_tight_p99_lowers_utilisation() -> None:
    p = capacity.plan(1000, 0.9, 30, bench=bench())
    assert p.utilisation == pytest.approx(1 - math.log(100) * 2.08 / (30 - 10))
    assert p.notes
    assert "P99_MS=30" in p.notes[0]


def test_impossible_requests_name_the_limit_and_the_way_out() -> None:
    with pytest.raises(capacity.Impossible, match="slowest route class"):
        capacity.plan(1000, 0.9, 5, bench=bench())
    with pytest.raises(capacity.Impossible, match=r"beyond appMaxTasks 100.*Lift"):
        capacity.plan(100_000, 0.9, 100, bench=bench())
    with pytest.raises(capacity.Impossible, match=r"write rate.*db\.r7g\.16xlarge.*Aurora"):
        capacity.plan(20_000, 0.0, 100, bench=bench(write=50_000))


def test_published_bench_copy_matches_the_docs() -> None:
    published = json.loads((REPO / "docs/assets/benchmarks.json").read_text())
    ours = capacity.load_bench()
    assert ours.date == published["run"]["generated_at"]
    by_name = {r["name"]: r for r in published["results"]}
    for route in ours.routes.values():
        processes = published["run"].get("server_processes", 1)
        assert route.requests_per_second == by_name[route.name]["requests_per_second"] / processes
        assert route.server_cpu_ms == by_name[route.name]["server_cpu_ms"]


def test_apply_writes_the_plan_into_the_stack_file(tmp_path: Path) -> None:
    infra = tmp_path / "infra"
    shutil.copytree(rendered(PRICED).infra, infra, ignore=shutil.ignore_patterns("__pycache__"))
    before = (infra / "Pulumi.prod.yaml").read_text()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tenfold_infra", "capacity", "--no-cost", *args],
            cwd=infra,
            capture_output=True,
            text=True,
            timeout=120,
        )

    impossible = run("--rps", "50000", "--apply")
    assert impossible.returncode == 3
    assert "appMaxTasks" in impossible.stderr
    assert (infra / "Pulumi.prod.yaml").read_text() == before  # nothing half-written
    done = run("--rps", "5000", "--apply")
    assert done.returncode == 0, done.stderr
    # The published bench decides the count; the planner's arithmetic is checked by hand above.
    app_min = capacity.plan(5000, bench=capacity.load_bench()).app_min
    assert app_min > 2  # more than prod's default minimum, so the plan must write it
    assert f"+  demo-service:appMinTasks: {app_min}" in done.stdout
    after = (infra / "Pulumi.prod.yaml").read_text()
    assert f"demo-service:appMinTasks: {app_min}\n" in after
    assert "alarmEmail" in after
    # appCpu 1024 / appMemoryMib 2048 are the plan's and prod's default: not copied in.
    assert "appCpu" not in after
    assert "appMemoryMib" not in after
    assert not [p for p in infra.iterdir() if p.name.startswith(".Pulumi")]


def test_docs_example_is_produced_by_the_real_commands() -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    from cost_capacity_doc import ANSWERS, PAGE, build
    from rendered_services import ANSWER_SETS

    assert ANSWER_SETS[PRICED] == ANSWERS
    assert PAGE.read_text() == build(rendered(PRICED).infra), (
        "docs/cost-and-capacity.md is stale: run `uv run python scripts/cost_capacity_doc.py`"
    )


def test_a_run_with_several_server_processes_is_sized_per_process(tmp_path: Path) -> None:
    published = json.loads((REPO / "docs/assets/benchmarks.json").read_text())
    one = capacity.load_bench(REPO / "docs/assets/benchmarks.json")
    published["run"]["server_processes"] = 2 * published["run"].get("server_processes", 1)
    doubled = tmp_path / "results.json"
    doubled.write_text(json.dumps(published))
    halved = capacity.load_bench(doubled)
    for label, route in one.routes.items():
        assert halved.routes[label].requests_per_second == route.requests_per_second / 2
