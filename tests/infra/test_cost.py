"""Cost in the preview, the budget policy, the price snapshot's two importers, the PR cost
change and the capacity planner.

tests/infra/data/aws-price-feeds holds excerpts of AWS's pricing-page feeds, cut verbatim from
the files the snapshot was built from (scripts/cut_price_feed_excerpts.py): the rows the
estimate uses in eu-west-1 and us-east-1, and their look-alikes. tests/infra/data/price_list
is a TEST FIXTURE in the Price List's offer-file format with test SKUs and test prices.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import http.server
import json
import math
import os
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
import yaml
from breakage import Breakage, Resources
from rendered_services import ANSWER_SETS, REPO, Rendered, render, rendered
from tenfold_infra import capacity
from tenfold_infra.config import ConfigError, parse_config
from tenfold_infra.cost import Traffic, estimate, feed_rules, feeds, keys, load_prices, refresh
from tenfold_infra.cost import diff as cost_diff
from tenfold_infra.cost.estimate import PRICERS
from tenfold_infra.cost.free import NO_CHARGE, NOT_AWS
from tenfold_infra.cost.refresh import RefreshError, parse_offer, rebuild
from tenfold_infra.policies import Resource, evaluate
from tenfold_infra.policies.budget import monthly_budget

DATA = Path(__file__).with_name("data")
FEEDS = DATA / "aws-price-feeds"
SNAPSHOT = REPO / "pulumi/tenfold_infra/cost/prices.json"
# Where the full feed folder is, when this machine has it (the excerpts are compared with it).
FULL_FEEDS = Path(os.environ.get("TENFOLD_PRICE_FEEDS", "/work/shared/aws-price-feeds"))
RATE_CODE = re.compile(r"[A-Z0-9]{16}\.[A-Z0-9]{10}\.[A-Z0-9]{10}")


def _resources(stack: dict[str, Any]) -> list[Resource]:
    return [Resource(r["type"], r["name"], r["inputs"]) for r in stack["resources"]]


def _triples(stack: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(r["type"], r["name"], r["inputs"]) for r in stack["resources"]]


# --- the estimate in the preview ---------------------------------------------------------


def test_every_resource_is_priced_free_with_a_page_or_not_priced_with_why(
    service: Rendered,
) -> None:
    for stack in ("dev", "prod"):
        preview = service.previews[stack]
        cost = preview["cost"]
        assert cost["total_monthly_usd"] == pytest.approx(
            sum(line["monthly_usd"] for line in cost["lines"]), abs=0.01 * len(cost["lines"])
        )
        placed = [(x["type"], x["resource"]) for x in cost["lines"] + cost["not_priced"]]
        free = [(x["type"], x["resource"]) for x in cost["no_charge"]]
        assert not set(placed) & set(free)
        for r in preview["resources"]:
            if not r["type"].startswith("tenfold:"):
                assert (r["type"], r["name"]) in set(placed) | set(free), r
        assert all(line["monthly_usd"] > 0 for line in cost["lines"])  # never a silent $0
        assert all(x["reason"] for x in cost["not_priced"])
        for line in cost["lines"]:
            assert RATE_CODE.fullmatch(line["reference"]) or line["reference"].startswith("label")
        dated = {s["name"]: s["dated"] for s in cost["price_sources"]}
        assert {line["source"] for line in cost["lines"]} == set(dated)
        assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in dated.values())
        assert cost["complete"] is (not cost["not_priced"])


def test_no_charge_lines_name_the_aws_page_that_says_so() -> None:
    for type_, charge in NO_CHARGE.items():
        if charge is NOT_AWS:
            assert not type_.startswith("aws:"), type_
            continue
        assert re.match(r"https://(aws\.amazon\.com|docs\.aws\.amazon\.com)/", charge.page), type_
        assert charge.reason, type_
    assert not set(NO_CHARGE) & set(PRICERS)


def _default_estimates() -> dict[str, Any]:
    """The default prod stack priced in eu-west-1 (its region) and in us-east-1."""
    resources = _triples(rendered("defaults").previews["prod"])
    return {
        region: estimate(resources, load_prices(region)) for region in ("eu-west-1", "us-east-1")
    }


def test_default_prod_stacks_leave_at_most_two_parts_unpriced_and_say_why() -> None:
    preview = rendered("defaults").previews["prod"]["cost"]
    assert preview["region"] == "eu-west-1"
    for region, cost in _default_estimates().items():
        assert len(cost.not_priced) <= 2, (region, cost.not_priced)
        assert cost.total_usd > 500, region  # instances, NAT gateways, CloudFront are in it
        for part in cost.not_priced:
            assert "no dated page" in part.reason or "not an AWS" in part.reason, part
    assert preview["total_monthly_usd"] == _default_estimates()["eu-west-1"].total_usd


def test_preview_prints_each_price_source_with_its_date() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tenfold_infra", "preview", "--stack", "prod"],
        cwd=rendered("defaults").infra,
        capture_output=True,
        text=True,
        timeout=300,
    )
    cost = rendered("defaults").previews["prod"]["cost"]
    text = done.stdout
    assert "Price sources (data dates" in text
    for source in cost["price_sources"]:
        assert f"    {source['dated']}  " in text, source
        assert source["page"] in text, source
    nat = next(line for line in text.splitlines() if "NAT gateway hours" in line)
    assert re.search(r"· natgateway feed \d{4}-\d{2}-\d{2}\]$", nat), nat
    assert "No charge ($0 lines" in text
    assert "<https://aws.amazon.com/vpc/pricing/>" in text


def test_multi_az_storage_is_priced_at_the_multi_az_rate() -> None:
    book = load_prices("eu-west-1")
    db = ("aws:rds/instance:Instance", "db", {"instanceClass": "db.r7g.large", "multiAz": True,
          "allocatedStorage": 50, "storageType": "gp3"})  # fmt: skip
    (instance, storage) = estimate([db], book).lines
    assert storage.key == "rds.storage_gb_month.multi_az.gp3"
    assert storage.monthly_usd == pytest.approx(50 * book.prices[storage.key].usd)
    single = book.prices["rds.storage_gb_month.single_az.gp3"].usd
    assert book.prices[storage.key].usd == pytest.approx(2 * single, rel=0.01)
    assert instance.key == "rds.instance_hour.multi_az.db.r7g.large"


def test_a_type_the_snapshot_does_not_carry_says_how_to_add_it() -> None:
    db = ("aws:rds/instance:Instance", "db", {"instanceClass": "db.m7g.large",
          "allocatedStorage": 20, "storageType": "gp3"})  # fmt: skip
    (missing,) = estimate([db], load_prices("eu-west-1")).not_priced
    assert "cost-refresh --from-feeds DIR --instance-type db.m7g.large" in missing.reason


def test_an_unpriced_region_prices_nothing_and_says_why() -> None:
    cost = estimate(
        [("aws:ec2/natGateway:NatGateway", "nat", {})], load_prices("xx-nowhere-1"), Traffic()
    )
    assert cost.total_usd == 0
    assert not cost.lines
    assert "has no figures for xx-nowhere-1" in cost.not_priced[0].reason
    assert cost.summary() == "unknown: nothing is priced in xx-nowhere-1"


# --- the budget ------------------------------------------------------------------------


def app_scales_to_a_hundred_tasks(rs: Resources) -> None:
    for r in rs:
        if r["type"] == "aws:appautoscaling/target:Target" and r["name"].endswith("-app"):
            r["inputs"]["minCapacity"] = 100


BUDGET_BREAKAGE = Breakage("monthly-budget", app_scales_to_a_hundred_tasks, "defaults")


def test_budget_policy_catches_a_stack_grown_past_its_budget_in_eu_west_1() -> None:
    preview = copy.deepcopy(rendered(BUDGET_BREAKAGE.answer_set).previews[BUDGET_BREAKAGE.stack])
    assert preview["cost"]["region"] == "eu-west-1"
    budget = monthly_budget(preview["cost"]["total_monthly_usd"] + 50)
    assert not budget.check(_resources(preview))
    BUDGET_BREAKAGE.apply(preview["resources"])
    problems = budget.check(_resources(preview))
    assert problems
    assert "exceeds monthlyBudget" in problems[0]
    assert "-app" in problems[0]
    assert all(f.passed for f in evaluate(_resources(preview)))  # only the budget fails


def test_monthly_budget_in_the_stack_file_fails_the_preview_in_eu_west_1(tmp_path: Path) -> None:
    root = tmp_path / "service"  # the whole service: the CDN uploads ../app/static
    shutil.copytree(rendered("defaults").root, root, ignore=shutil.ignore_patterns("__pycache__"))
    stack = root / "infra" / "Pulumi.prod.yaml"
    assert "aws:region: eu-west-1" in stack.read_text()
    stack.write_text(stack.read_text() + "  demo-service:monthlyBudget: 1000\n")
    done = subprocess.run(
        [sys.executable, "-m", "tenfold_infra", "preview", "--stack", "prod"],
        cwd=root / "infra",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert "FAIL monthly-budget: estimated at least $" in done.stdout
    assert "exceeds monthlyBudget $1,000.00" in done.stdout
    assert "policy check failed: monthly-budget" in done.stderr


@pytest.mark.parametrize("value", ["-5", "0", "lots"])
def test_monthly_budget_must_be_a_positive_number(value: str) -> None:
    raw = {"tier": "dev", "monthlyBudget": value}
    with pytest.raises(ConfigError, match="demo:monthlyBudget must be a positive number"):
        parse_config("demo", "dev", raw, "us-east-1")
    assert parse_config("demo", "dev", {"tier": "dev"}, "us-east-1").monthly_budget_usd is None
    ok = parse_config("demo", "dev", {"tier": "dev", "monthlyBudget": "2500"}, "us-east-1")
    assert ok.monthly_budget_usd == 2500


# --- the pricing-page feeds -----------------------------------------------------------


def _rows(file: str, location: str) -> dict[str, dict[str, Any]]:
    data = json.loads((FEEDS / file).read_text())
    return data["regions"][location]  # type: ignore[no-any-return]


def _rule(feed: str, label: str, row: dict[str, Any]) -> str | None:
    return feed_rules.RULES[feed](label, row)


@pytest.mark.parametrize(
    ("file", "feed", "takes", "leaves"),
    [
        ("lamngockhuong-aws-price/ecs.json", "ecs",
         {"perCPU per hour": "fargate.vcpu_hour.X86_64", "ARM perCPU per hour":
          "fargate.vcpu_hour.ARM64", "ARM perGB per hour": "fargate.gb_hour.ARM64"},
         ["perCPU per hour Windows", "perGB per hour Windows"]),
        ("lamngockhuong-aws-price/natgateway.json", "natgateway",
         {"Hourly charge for NAT Gateways": "nat.hour"},
         ["Per hour and per Gbps charge for NAT Gateways with provisioned bandwidth"]),
        ("lamngockhuong-aws-price/vpc.json", "vpc",
         {"Hourly charge for VPC Endpoints per Hrs": "vpc_endpoint.az_hour",
          "Hourly charge for In use Public IPv4 Addresses per Hrs": "public_ipv4.hour"},
         ["Hourly charge for AWS Gateway Load Balancer VPC Endpoint per Hrs",
          "Hourly charge for Idle Public IPv4 Addresses per Hrs"]),
        ("quinnypig-aws-price-watcher/raw/elb.json", "elb",
         {"Application Load Balancer Hours": "alb.hour"},
         ["Network Load Balancer Hours", "Gateway Load Balancer Hours",
          "Network Load Balancer LCU Hours", "TS Application Load Balancer Hours"]),
        ("quinnypig-aws-price-watcher/raw/rds-storage.json", "rds-storage",
         {"Database Storage Single AZ General Purpose-GP3": "rds.storage_gb_month.single_az.gp3",
          "Database Storage Multi AZ General Purpose-GP3": "rds.storage_gb_month.multi_az.gp3"},
         ["Database Storage Multi AZ readable standbys Provisioned IOPS",
          "Database Storage Single AZ General Purpose-Aurora", "RDS Snapshot Export MySQL"]),
        ("yeo-ec2.shop/elasticache.json", "elasticache",
         {"OnDemand Cache Instance Memory optimized cache r7g.large Valkey Current Generation":
          "elasticache.node_hour.valkey.cache.r7g.large",
          "OnDemand Cache Instance Memory optimized cache r7g.large Redis Current Generation":
          "elasticache.node_hour.redis.cache.r7g.large"},
         ["OnDemand Cache Instance Memory optimized cache r7g.large Memcached Current Generation"]),
        ("quinnypig-aws-price-watcher/raw/mq.json", "mq",
         {"RabbitMQ Single Instance mq m5.large": "mq.broker_hour.single_az.mq.m5.large",
          "RabbitMQ Active Standby mq m5.large": "mq.broker_hour.multi_az.mq.m5.large"},
         ["Single Instance mq m5.large", "Active Standby mq m5.large"]),  # ActiveMQ
        ("lamngockhuong-aws-price/waf.json", "waf",
         {"Web ACL Activated per Month": "waf.web_acl_month"},
         ["WebACL per month", "Rules added per WebACL per month"]),
        ("lamngockhuong-aws-price/cloudwatch.json", "cloudwatch",
         {"Alarm Standard": "cloudwatch.alarm_month",
          "Logs Collected Data Ingestion": "cloudwatch.logs_ingest_gb"},
         ["Alarm High Resolution", "Vended Logs First 10TB"]),
    ],
    ids=["fargate-x86-arm", "nat", "vpc-endpoint-ipv4", "alb-not-nlb-gwlb", "rds-storage-az",
         "valkey-redis-memcached", "rabbitmq-not-activemq", "waf", "cloudwatch"],
)  # fmt: skip
def test_feed_rules_take_their_row_and_leave_its_look_alikes(
    file: str, feed: str, takes: dict[str, str], leaves: list[str]
) -> None:
    rows = _rows(file, "EU (Ireland)")
    for label, key in takes.items():
        assert _rule(feed, label, rows[label]) == key, label
    for label in leaves:
        assert label in rows, f"the excerpt lost its look-alike {label!r}"
        assert _rule(feed, label, rows[label]) is None, label


def test_rds_instance_rows_single_az_multi_az_and_other_engines() -> None:
    data = json.loads(
        (FEEDS / "quinnypig-aws-price-watcher/processed/rds-postgresql-ondemand.json").read_text()
    )
    label = "Database Instance PostgreSQL No license required db r7g.large Memory optimized {} Current Generation"
    where = next(w for w in data[label.format("Single-AZ")] if w.startswith("EU (Ireland) ("))
    row = {"Instance Type": "db.r7g.large"}
    assert feed_rules.rds_instance(label.format("Single-AZ"), row) == (
        "rds.instance_hour.single_az.db.r7g.large"
    )
    assert feed_rules.rds_instance(label.format("Multi-AZ"), row) == (
        "rds.instance_hour.multi_az.db.r7g.large"
    )
    single = float(data[label.format("Single-AZ")][where])
    assert float(data[label.format("Multi-AZ")][where]) == pytest.approx(2 * single)
    # A Multi-AZ DB cluster (readable standbys) is another product; so is another engine (this
    # label is the PostgreSQL one with its engine swapped: the processed file holds only
    # PostgreSQL rows).
    cluster = label.replace("r7g.large", "r6gd.large").format("Multi-AZ readable standbys")
    assert cluster in data
    assert feed_rules.rds_instance(cluster, {"Instance Type": "db.r6gd.large"}) is None
    assert (
        feed_rules.rds_instance(label.format("Single-AZ").replace("PostgreSQL", "MySQL"), row)
        is None
    )


def test_cloudfront_prices_viewers_near_the_region_and_reads_sku_keyed_rows(tmp_path: Path) -> None:
    book = feeds.collect(FEEDS, ["eu-west-1", "us-east-1"], keys.template_instance_types())[0]
    assert book["eu-west-1"]["cloudfront.https_10k"]["usd"] == pytest.approx(0.012)  # EU
    assert book["us-east-1"]["cloudfront.https_10k"]["usd"] == pytest.approx(0.01)  # US
    assert book["eu-west-1"]["cloudfront.gb_out"]["rateCode"].endswith(".Q3Z75P77EN")  # 10 TB
    # Without the labelled first-tier row, the row keyed by its SKU alone is found by its SKU.
    folder = tmp_path / "feeds"
    shutil.copytree(FEEDS, folder)
    path = folder / "lamngockhuong-aws-price/cloudfront.json"
    data = json.loads(path.read_text())
    del data["regions"][""]["Regional DT from EU to Internet First 10 TB"]
    path.write_text(json.dumps(data))
    again = feeds.collect(folder, ["eu-west-1"], keys.template_instance_types())[0]
    assert again["eu-west-1"]["cloudfront.gb_out"] == book["eu-west-1"]["cloudfront.gb_out"]


def test_the_stored_snapshot_is_what_the_importer_makes_of_aws_rows() -> None:
    stored = json.loads(SNAPSHOT.read_text())
    types = frozenset(stored["instance_types_carried"])
    found, sources = feeds.collect(FEEDS, ["eu-west-1", "us-east-1"], types)
    for region in ("eu-west-1", "us-east-1"):
        assert found[region] == stored["regions"][region], region
    for name, source in sources.items():
        assert stored["sources"][name] == source


def test_every_figure_names_its_feed_file_rate_code_and_publication_date() -> None:
    data = json.loads(SNAPSHOT.read_text())
    assert tuple(sorted(data["regions"])) == tuple(sorted(keys.REGIONS))  # every copier region
    for name, source in data["sources"].items():
        assert source["kind"] in ("offer-file", "feed", "secondary"), name
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", source["dated"]), name
        if source["kind"] == "feed":
            assert source["page"].endswith(".json"), name
            assert source["published"].startswith(source["dated"]), name
    for _region, figures in data["regions"].items():
        for key, figure in figures.items():
            assert figure["usd"] > 0, key
            assert figure["source"] in data["sources"], key
            if data["sources"][figure["source"]]["kind"] != "secondary":
                assert RATE_CODE.fullmatch(figure.get("rateCode", "")) or figure.get("label"), key


def test_the_snapshot_keeps_only_what_the_estimator_asks_for() -> None:
    data = json.loads(SNAPSHOT.read_text())
    types = frozenset(data["instance_types_carried"])
    assert keys.template_instance_types() <= types
    for region, figures in data["regions"].items():
        for key in figures:
            assert keys.asks_for(key, region, types), (region, key)
    assert not keys.asks_for("elasticache.node_hour.memcached.cache.r7g.large", "eu-west-1", types)
    assert not keys.asks_for("mq.broker_hour.single_az.mq.m5.large", "eu-west-1", types)
    assert SNAPSHOT.stat().st_size < 400_000  # 34 regions; every type would take 2.8 MB


def test_the_newest_feed_file_with_a_row_wins(tmp_path: Path) -> None:
    types = keys.template_instance_types()
    found = feeds.collect(FEEDS, ["eu-west-1"], types)[0]["eu-west-1"]
    assert found["fargate.vcpu_hour.ARM64"]["source"] == "ecs@2025-10-27"  # not 2025-06-05's
    folder = tmp_path / "feeds"
    shutil.copytree(FEEDS, folder)
    newer = folder / "lamngockhuong-aws-price/ecs.json"
    data = json.loads(newer.read_text())
    del data["regions"]["EU (Ireland)"]["ARM perCPU per hour"]
    newer.write_text(json.dumps(data))
    older = feeds.collect(folder, ["eu-west-1"], types)[0]["eu-west-1"]
    assert older["fargate.vcpu_hour.ARM64"]["source"] == "ecs@2025-06-05"
    assert older["fargate.gb_hour.ARM64"]["source"] == "ecs@2025-10-27"


def test_a_zero_price_is_never_stored(tmp_path: Path) -> None:
    folder = tmp_path / "feeds"
    shutil.copytree(FEEDS, folder)
    path = folder / "lamngockhuong-aws-price/natgateway.json"
    data = json.loads(path.read_text())
    data["regions"]["EU (Ireland)"]["Hourly charge for NAT Gateways"]["price"] = "0.0000000000"
    path.write_text(json.dumps(data))
    found = feeds.collect(folder, ["eu-west-1"], keys.template_instance_types())[0]["eu-west-1"]
    assert "nat.hour" not in found  # not priced, with its reason: never a silent $0
    assert found["nat.gb"]["usd"] > 0


def test_a_processed_feed_is_read_only_with_the_raw_feed_that_dates_it(tmp_path: Path) -> None:
    folder = tmp_path / "feeds"
    processed = "quinnypig-aws-price-watcher/processed/rds-postgresql-ondemand.json"
    (folder / processed).parent.mkdir(parents=True)
    shutil.copy(FEEDS / processed, folder / processed)
    with pytest.raises(feeds.FeedError, match="no AWS pricing-page feed under"):
        feeds.collect(folder, ["eu-west-1"], keys.template_instance_types())
    dating = "quinnypig-aws-price-watcher/raw/rds-storage.json"
    (folder / dating).parent.mkdir(parents=True)
    shutil.copy(FEEDS / dating, folder / dating)
    found, sources = feeds.collect(folder, ["eu-west-1"], keys.template_instance_types())
    figure = found["eu-west-1"]["rds.instance_hour.multi_az.db.r7g.large"]
    assert figure["label"].startswith("Database Instance PostgreSQL")
    assert "rateCode" not in figure
    source = sources[figure["source"]]
    assert source["published"] == "2025-06-17T16:11:03Z"  # rds-storage.json's manifest
    assert "dated by quinnypig-aws-price-watcher/raw/rds-storage.json" in source["states"]


def _refresh(*args: str, snapshot: Path) -> subprocess.CompletedProcess[str]:
    """`cost-refresh` on a copy of the package whose snapshot is `snapshot`."""
    package = snapshot.parent.parent
    return subprocess.run(
        [sys.executable, "-m", "tenfold_infra", "cost-refresh", *args],
        cwd=package.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """A copy of tenfold_infra whose prices.json a refresh may rewrite."""
    copy_ = tmp_path / "tenfold_infra"
    shutil.copytree(
        REPO / "pulumi/tenfold_infra", copy_, ignore=shutil.ignore_patterns("__pycache__")
    )
    return copy_ / "cost" / "prices.json"


def test_refresh_from_feeds_keeps_offer_file_figures_and_added_types(package: Path) -> None:
    data = json.loads(package.read_text())
    data["sources"]["aws-price-list:AmazonEC2:eu-west-1:1"] = {
        "kind": "offer-file", "page": "https://pricing.us-east-1.amazonaws.com/x",
        "dated": "2026-12-01", "states": "test"}  # fmt: skip
    data["regions"]["eu-west-1"]["nat.hour"] = {
        "usd": 0.05,
        "source": "aws-price-list:AmazonEC2:eu-west-1:1",
    }
    package.write_text(json.dumps(data))
    done = _refresh("--from-feeds", str(FEEDS), "--region", "eu-west-1", "--instance-type",
                    "db.m7g.large", snapshot=package)  # fmt: skip
    assert done.returncode == 0, done.stderr
    after = json.loads(package.read_text())
    eu = after["regions"]["eu-west-1"]
    assert eu["nat.hour"]["usd"] == 0.05  # the offer file stays primary
    assert eu["nat.gb"]["source"] == "natgateway@2025-10-28"
    assert "rds.instance_hour.single_az.db.m7g.large" in eu
    assert after["instance_types"] == ["db.m7g.large"]
    assert after["regions"]["us-east-1"] == data["regions"]["us-east-1"]  # not asked for
    assert sorted(p.name for p in package.parent.iterdir() if p.name.startswith(".prices")) == []
    # A later refresh without the flag keeps the added type.
    again = _refresh("--from-feeds", str(FEEDS), "--region", "eu-west-1", snapshot=package)
    assert again.returncode == 0, again.stderr
    assert (
        "rds.instance_hour.single_az.db.m7g.large"
        in json.loads(package.read_text())["regions"]["eu-west-1"]
    )


def test_refresh_from_a_folder_without_feeds_says_so_and_writes_nothing(
    package: Path, tmp_path: Path
) -> None:
    before = package.read_bytes()
    for folder, message in ((tmp_path / "missing", "is not a folder of AWS pricing-page feeds"),
                            (tmp_path, "no AWS pricing-page feed under")):  # fmt: skip
        done = _refresh("--from-feeds", str(folder), snapshot=package)
        assert done.returncode == 1
        assert message in done.stderr
        assert "the price snapshot was left unchanged" in done.stderr
        assert package.read_bytes() == before


def test_secondary_figures_fill_only_gaps_and_are_marked(package: Path) -> None:
    secondary = package.with_name("secondary.json")
    kept = json.loads(secondary.read_text())
    kept["sources"]["example-page"] = {
        "page": "https://example.com/amazon-mq-prices", "dated": "2026-12-01",
        "states": "test figures", "figures": {"eu-west-1": {
            "mq.broker_hour.multi_az.mq.m7g.large": 1.5, "nat.hour": 9.0}}}  # fmt: skip
    secondary.write_text(json.dumps(kept))
    assert (
        _refresh("--from-feeds", str(FEEDS), "--region", "eu-west-1", snapshot=package).returncode
        == 0
    )
    data = json.loads(package.read_text())
    eu = data["regions"]["eu-west-1"]
    assert eu["mq.broker_hour.multi_az.mq.m7g.large"] == {
        "usd": 1.5,
        "source": "secondary:example-page",
    }
    assert eu["nat.hour"]["source"] == "natgateway@2025-10-28"  # never over an AWS figure
    book = load_prices("eu-west-1", package)
    broker = ("aws:mq/broker:Broker", "mq", {"deploymentMode": "CLUSTER_MULTI_AZ",
              "hostInstanceType": "mq.m7g.large"})  # fmt: skip
    cost = estimate([broker], book)
    assert "SECONDARY" in cost.lines[0].basis
    assert "1 figures from a secondary source" in cost.summary()
    assert any("SECONDARY" in line for line in cost.render())


def test_known_gaps_give_their_reason() -> None:
    broker = ("aws:mq/broker:Broker", "mq", {"deploymentMode": "SINGLE_INSTANCE",
              "hostInstanceType": "mq.m7g.medium"})  # fmt: skip
    (part,) = estimate([broker], load_prices("eu-west-1")).not_priced
    assert "have no mq.m7g rows" in part.reason
    assert "https://aws.amazon.com/amazon-mq/pricing/" in part.reason


def test_feed_excerpts_are_verbatim_cuts_of_the_feeds() -> None:
    if not FULL_FEEDS.is_dir():
        pytest.skip(
            f"the full feed folder is not on this machine ({FULL_FEEDS}; TENFOLD_PRICE_FEEDS)"
        )
    for excerpt in sorted(FEEDS.rglob("*.json")):
        cut = json.loads(excerpt.read_text())
        full = json.loads((FULL_FEEDS / excerpt.relative_to(FEEDS)).read_text())
        if "manifest" in cut:
            assert cut["manifest"] == full["manifest"], excerpt
            for location, rows in cut["regions"].items():
                for label, row in rows.items():
                    assert full["regions"][location][label] == row, (excerpt, location, label)
        else:
            for label, prices in cut.items():
                for where, price in prices.items():
                    assert full[label][where] == price, (excerpt, label, where)


def test_locations_match_the_feeds_location_table() -> None:
    path = FULL_FEEDS / "lamngockhuong-aws-price/locations.json"
    assert set(feeds.LOCATIONS) == set(keys.REGIONS)
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    table = json.loads(path.read_text())
    for region, name in feeds.LOCATIONS.items():
        assert table[name]["code"] == region


# --- the AWS Price List offer files (TEST FIXTURE prices, not AWS's) --------------------

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
        ("AmazonECS", {"fargate.vcpu_hour.X86_64": 0.04, "fargate.gb_hour.X86_64": 0.0044,
                       "fargate.vcpu_hour.ARM64": 0.032, "fargate.gb_hour.ARM64": 0.0035}),
        # MySQL is left out; Multi-AZ storage is its own (two-copy) product.
        ("AmazonRDS", {"rds.instance_hour.single_az.db.t4g.micro": 0.016,
                       "rds.instance_hour.multi_az.db.t4g.micro": 0.032,
                       "rds.instance_hour.single_az.db.r7g.large": 0.24,
                       "rds.instance_hour.multi_az.db.r7g.large": 0.48,
                       "rds.storage_gb_month.single_az.gp3": 0.115,
                       "rds.storage_gb_month.multi_az.gp3": 0.23,
                       "rds.storage_gb_month.single_az.gp2": 0.115}),
        # The $0 "reserved instance applied" dimension is skipped; Memcached is not priced.
        ("AmazonElastiCache", {"elasticache.node_hour.valkey.cache.r7g.large": 0.175,
                               "elasticache.node_hour.redis.cache.r7g.large": 0.219,
                               "elasticache.node_hour.valkey.cache.t4g.micro": 0.0128}),
        ("AmazonMQ", {"mq.broker_hour.single_az.mq.m7g.large": 0.27,
                      "mq.broker_hour.multi_az.mq.m7g.large": 0.81}),
        ("AmazonEC2", {"nat.hour": 0.045, "nat.gb": 0.045}),
        # Endpoint bytes are tiered: the first tier. GWLB endpoints and idle addresses are
        # other products.
        ("AmazonVPC", {"vpc_endpoint.az_hour": 0.01, "vpc_endpoint.gb": 0.01,
                       "public_ipv4.hour": 0.005}),
        # Not the trust store's hours, not the network load balancer's.
        ("AWSELB", {"alb.hour": 0.0225, "alb.lcu_hour": 0.008}),
        ("awswaf", {"waf.web_acl_month": 5.0, "waf.rule_month": 1.0, "waf.million_requests": 0.6}),
        ("AWSSecretsManager", {"secretsmanager.secret_month": 0.4}),
        ("AmazonCloudWatch", {"cloudwatch.alarm_month": 0.1, "cloudwatch.dashboard_month": 3.0,
                              "cloudwatch.logs_ingest_gb": 0.5}),
        ("AmazonECR", {"ecr.storage_gb_month": 0.1}),
        ("AmazonS3", {"s3.storage_gb_month": 0.023}),
        ("AmazonCloudFront", {"cloudfront.gb_out": 0.085, "cloudfront.https_10k": 0.01}),
    ],
)  # fmt: skip
def test_refresh_parses_each_services_offer_file(code: str, expected: dict[str, float]) -> None:
    assert _figures(code, "us-east-1") == pytest.approx(expected)


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
        ("aws:cloudwatch/logGroup:LogGroup", "ecs-logs", {"name": "/ecs/app"}),
        ("aws:cloudwatch/logGroup:LogGroup", "rds-logs", {"name": "/aws/rds/instance/db/postgresql"}),
        ("aws:ecr/repository:Repository", "images", {}),
        ("aws:s3/bucket:Bucket", "static", {}),
    ]  # fmt: skip


def test_refresh_fills_every_key_the_estimator_asks_for(package: Path) -> None:
    with serving(PRICE_LIST) as base:
        counts = rebuild(["us-east-1", "eu-west-1", "sa-east-1"], path=package, base=base)
    assert counts == {"us-east-1": 34, "eu-west-1": 6, "sa-east-1": 0}
    book = load_prices("us-east-1", package)
    priced = {typ for typ, _, _ in _every_priced_type("valkey", "SINGLE_INSTANCE")}
    assert priced | {"aws:ecs/taskDefinition:TaskDefinition"} >= set(PRICERS)
    for engine, deployment in (("valkey", "CLUSTER_MULTI_AZ"), ("redis", "SINGLE_INSTANCE")):
        cost = estimate(_every_priced_type(engine, deployment), book, Traffic())
        assert not cost.not_priced, cost.not_priced
        assert {line.type for line in cost.lines} == set(PRICERS)
        assert all(line.price.source.kind == "offer-file" for line in cost.lines)
    # eu-west-1's offer files (in the fixture) price 6 keys; the feed figures stay for the
    # rest, and sa-east-1 has no products: its feed figures stay too.
    eu = load_prices("eu-west-1", package)
    assert eu.prices["rds.instance_hour.multi_az.db.r7g.large"].source.kind == "offer-file"
    assert eu.prices["nat.hour"].source.kind == "feed"
    assert load_prices("sa-east-1", package).covers_region


def test_refresh_records_each_figures_offer_version_and_writes_atomically(package: Path) -> None:
    with serving(PRICE_LIST) as base:
        rebuild(["eu-west-1"], path=package, base=base)
    data = json.loads(package.read_text())
    figure = data["regions"]["eu-west-1"]["rds.instance_hour.multi_az.db.r7g.large"]
    assert figure == {"usd": 0.5, "source": "aws-price-list:AmazonRDS:eu-west-1:20261101000000"}
    source = data["sources"][figure["source"]]
    assert source["kind"] == "offer-file"
    assert source["published"] == "2026-11-01T00:00:00Z"  # the file's publicationDate
    assert source["dated"] == "2026-11-01"
    assert source["page"].endswith("/offers/v1.0/aws/AmazonRDS/20261101000000/eu-west-1/index.json")
    assert "offer version 20261101000000" in source["states"]
    assert load_prices("us-east-1", package).get("nat.hour")  # regions not asked for are kept
    assert not [p for p in package.parent.iterdir() if p.name.startswith(".prices-")]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed when the block ends: nothing listens


def test_refresh_offline_names_the_url_and_leaves_the_snapshot(package: Path) -> None:
    before = package.read_bytes()
    base = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(RefreshError) as error:
        rebuild(["us-east-1"], path=package, base=base)
    message = str(error.value)
    assert f"the offer index at {base}/offers/v1.0/aws/index.json" in message
    assert "refused" in message.lower()
    assert "the price snapshot was left unchanged" in message
    assert package.read_bytes() == before


def test_refresh_stops_at_a_missing_region_file_and_writes_nothing(
    package: Path, tmp_path: Path
) -> None:
    root = tmp_path / "price_list"
    shutil.copytree(PRICE_LIST, root)
    (root / f"offers/v1.0/aws/AmazonMQ/{FIXTURE_VERSION}/eu-west-1/index.json").unlink()
    before = package.read_bytes()
    with serving(root) as base, pytest.raises(RefreshError) as error:
        rebuild(["us-east-1", "eu-west-1"], path=package, base=base)
    assert f"for AmazonMQ eu-west-1 at {base}/offers/v1.0/aws/AmazonMQ/" in str(error.value)
    assert package.read_bytes() == before


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
    assert tuple(re.findall(r"'([a-z0-9-]+)'", listed)) == keys.REGIONS
    done = subprocess.run(
        [sys.executable, "-m", "tenfold_infra", "cost-refresh", "--region", "xx-nowhere-1"],
        cwd=REPO / "pulumi",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "xx-nowhere-1 is not a region the template supports" in done.stderr
    typo = subprocess.run(
        [sys.executable, "-m", "tenfold_infra", "cost-refresh", "--from-feeds", str(FEEDS),
         "--instance-type", "db.m7g.larg"],
        cwd=REPO / "pulumi", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert typo.returncode == 2
    assert "db.m7g.larg is not an RDS for PostgreSQL, ElastiCache or Amazon MQ" in typo.stderr


# --- the cost change on a pull request ------------------------------------------------


def _checkouts(tmp_path: Path) -> tuple[Path, Path]:
    """The default service twice: head's prod stack has a second read replica."""
    base, head = tmp_path / "base", tmp_path / "head"
    for side in (base, head):
        shutil.copytree(
            rendered("defaults").root, side, ignore=shutil.ignore_patterns("__pycache__")
        )
    stack = head / "infra" / "Pulumi.prod.yaml"
    text, replaced = re.subn(r"(:readReplicas:) 1\b", r"\1 2", stack.read_text())
    assert replaced == 1
    stack.write_text(text)
    return base / "infra", head / "infra"


def test_cost_diff_itemises_a_change_that_adds_a_replica(tmp_path: Path) -> None:
    base, head = _checkouts(tmp_path)
    changes = {c.stack: c for c in cost_diff.compare(base, head)}
    assert set(changes) == {"dev", "prod"}
    assert changes["dev"].change_usd == 0
    assert not changes["dev"].lines
    prod = changes["prod"]
    book = load_prices("eu-west-1")
    per_month = {
        "rds.instance_hour.single_az.db.r7g.large": 730 * book.prices["rds.instance_hour.single_az.db.r7g.large"].usd,
        "rds.storage_gb_month.single_az.gp3": 50 * book.prices["rds.storage_gb_month.single_az.gp3"].usd,
        "alarms": 2 * book.prices["cloudwatch.alarm_month"].usd,
        "logs": 2 * Traffic().other_log_gb_per_group * book.prices["cloudwatch.logs_ingest_gb"].usd,
    }  # fmt: skip
    assert prod.change_usd == pytest.approx(sum(per_month.values()), abs=0.02)
    assert {x.status for x in prod.lines} == {"added"}
    assert all(x.resource.startswith("demo-service-prod-replica-2") for x in prod.lines)
    assert prod.lines[0].item == "db.r7g.large single-az instance"  # the largest first
    comment = cost_diff.markdown(list(changes.values()))
    assert comment.splitlines()[0] == cost_diff.MARKER
    assert (
        f"| prod | ${prod.before_usd:,.2f} + 1 not priced | ${prod.after_usd:,.2f} + 1 not priced"
        in comment
    )
    assert "| demo-service-prod-replica-2 | db.r7g.large single-az instance | - |" in comment
    assert "prod: 6 lines differ" in comment


def test_cost_diff_refuses_a_folder_that_is_not_a_service_infra(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tenfold_infra", "cost-diff", "--base", str(tmp_path)],
        cwd=rendered("defaults").infra,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"no Pulumi.yaml in {tmp_path}" in done.stderr


def test_cost_diff_shows_a_stack_added_or_removed_whole() -> None:
    resources = _triples(rendered("defaults").previews["dev"])
    dev = estimate(resources, load_prices("eu-west-1"))
    added = cost_diff.StackChange("dev", None, dev, cost_diff.changed_lines(None, dev))
    removed = cost_diff.StackChange("dev", dev, None, cost_diff.changed_lines(dev, None))
    assert added.change_usd == dev.total_usd == -removed.change_usd
    assert {x.status for x in added.lines} == {"added"}
    assert {x.status for x in removed.lines} == {"removed"}
    assert sum(x.change_usd for x in added.lines) == pytest.approx(
        dev.total_usd, abs=0.01 * len(dev.lines)
    )
    comment = cost_diff.markdown([added])
    assert f"| dev | - | ${dev.total_usd:,.2f} + 1 not priced | +${dev.total_usd:,.2f} |" in comment
    assert "- newly not priced: demo-service-dev-rabbitmq" in comment


def test_cost_diff_names_a_stack_neither_checkout_has(tmp_path: Path) -> None:
    infra = rendered("defaults").infra
    with pytest.raises(
        cost_diff.DiffError, match=r"no Pulumi\.staging\.yaml .*choose from dev, prod"
    ):
        cost_diff.compare(infra, infra, ["staging"])


def test_pull_requests_get_one_cost_comment() -> None:
    workflow = yaml.safe_load(
        (rendered("defaults").root / ".github/workflows/deploy.yml").read_text()
    )
    job = workflow["jobs"]["cost-change"]
    assert job["if"] == "github.event_name == 'pull_request'"
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    base = next(s for s in job["steps"] if s.get("with", {}).get("path"))
    assert base["with"]["ref"] == "${{ github.event.pull_request.base.sha }}"
    run = next(s for s in job["steps"] if "cost-diff" in s.get("run", ""))
    assert f"--base ../{base['with']['path']}/infra" in run["run"]
    assert "--format markdown" in run["run"]
    assert "GITHUB_STEP_SUMMARY" in run["run"]
    post = next(s for s in job["steps"] if "github-script" in s.get("uses", ""))
    script = post["with"]["script"]
    assert "split('\\n', 1)[0]" in script  # the marker: the comment's first line
    assert "updateComment" in script
    assert "createComment" in script
    assert post["if"] == "github.event.pull_request.head.repo.full_name == github.repository"


# --- capacity planner -----------------------------------------------------------------


def test_max_connections_follows_aws_formula() -> None:
    # LEAST({DBInstanceClassMemory/9531392}, 5000), memory in bytes.
    assert capacity.max_connections("db.r7g.large") == 16 * 1024**3 // 9531392 == 1802
    assert capacity.max_connections("db.r7g.xlarge") == 3604
    assert capacity.max_connections("db.r7g.16xlarge") == 5000  # the cap, not 57,679


def bench(
    cached: float = 1000,
    uncached: float = 500,
    write: float = 100,
    job: float = 200,
    cpu_share: float | None = 1.0,
) -> capacity.Bench:
    """Measured req/s by route class; each request's CPU ms is `cpu_share` of its wall time
    (None: a bench without the CPU column)."""
    rates = {"cached read": cached, "uncached read": uncached, "write": write, "job (worker)": job}
    return capacity.Bench(
        "hand",
        "2026-01-01",
        {
            k: capacity.Route(k, v, None if cpu_share is None else cpu_share * 1000 / v, 0.0)
            for k, v in rates.items()
        },
    )


def test_plan_matches_a_hand_worked_case() -> None:
    # CPU ms a request: 0.9 x (0.8 x 1 + 0.2 x 2) + 0.1 x 10 = 2.08 ms -> 480.8 req/s a vCPU.
    p = capacity.plan(1000, 0.9, 100, az_count=3, bench=bench())
    assert p.basis == "cpu"
    assert p.per_task_rps_cpu == pytest.approx(1000 / 2.08)
    assert p.utilisation == 0.6  # the p99 bound, 1 - ln(100) x 2.08 / (100 - 10) = 0.89, is looser
    # Steady: ceil(1000 / (480.8 x 0.6)) = 4 -> 6 (a multiple of 3 AZs); after losing an AZ:
    # ceil(1000 / (480.8 x 0.9)) = 3 on 2 AZs -> 2 a zone -> 6.
    assert (p.app_min, p.app_max) == (6, 12)
    # A job: 5 ms CPU; 100 jobs/s / (0.5 vCPU x 0.6 x 1000 / 5) = 1.67 -> 2, one a zone -> 3.
    assert (p.worker_min, p.worker_max) == (3, 6)
    # 100 writes/s <= 400 x 2 vCPU x 0.6 = 480; 180 uncached reads/s <= 1500 x 2 x 0.6.
    assert (p.db_class, p.replicas) == ("db.r7g.large", 1)
    assert p.cache_node == "cache.r7g.large"
    assert p.broker_type == "mq.m7g.large"
    assert p.config["appMinTasks"] == 6


def test_the_plan_sizes_by_cpu_time_and_shows_the_measured_figure_beside_it() -> None:
    # The server spent half of each request's wall time on CPU (the load generator had the
    # rest): a task serves twice the measured req/s.
    p = capacity.plan(10_000, 0.9, 100, bench=bench(cpu_share=0.5))
    assert p.per_task_rps_cpu == pytest.approx(2 * p.per_task_rps_measured)
    assert p.per_task_rps == p.per_task_rps_cpu
    measured = capacity.plan(10_000, 0.9, 100, bench=bench(cpu_share=None))
    assert measured.basis == "req/s"
    assert p.app_min < measured.app_min
    assert p.worker_min < measured.worker_min
    text = "\n".join(capacity.explain(p))
    assert f"{p.per_task_rps_cpu:,.0f} req/s from CPU time" in text
    assert f"beside {p.per_task_rps_measured:,.0f} req/s from the bench's measured req/s" in text
    assert "the plan uses CPU time" in text
    assert "the plan sizes by measured req/s" in "\n".join(capacity.explain(measured))


def test_a_tight_p99_lowers_utilisation() -> None:
    p = capacity.plan(1000, 0.9, 30, bench=bench())
    assert p.utilisation == pytest.approx(1 - math.log(100) * 2.08 / (30 - 10))
    assert p.notes
    assert "P99_MS=30" in p.notes[0]


def test_impossible_requests_name_the_limit_and_the_way_out() -> None:
    with pytest.raises(capacity.Impossible, match="slowest route class"):
        capacity.plan(1000, 0.9, 5, bench=bench())
    with pytest.raises(capacity.Impossible, match=r"beyond appMaxTasks 100.*Lift") as limit:
        capacity.plan(100_000, 0.9, 100, bench=bench())
    assert limit.value.plan is not None
    assert limit.value.plan.per_task_rps_cpu
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
        assert route.server_cpu_ms == by_name[route.name].get("server_cpu_ms")


def test_apply_writes_the_plan_into_the_stack_file(tmp_path: Path) -> None:
    infra = tmp_path / "infra"
    shutil.copytree(rendered("defaults").infra, infra, ignore=shutil.ignore_patterns("__pycache__"))
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
    assert "Per task (1 vCPU" in impossible.stdout  # what it worked out before the limit
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


def test_a_run_with_several_server_processes_is_sized_per_process(tmp_path: Path) -> None:
    published = json.loads((REPO / "docs/assets/benchmarks.json").read_text())
    one = capacity.load_bench(REPO / "docs/assets/benchmarks.json")
    published["run"]["server_processes"] = 2 * published["run"].get("server_processes", 1)
    doubled = tmp_path / "results.json"
    doubled.write_text(json.dumps(published))
    halved = capacity.load_bench(doubled)
    for label, route in one.routes.items():
        assert halved.routes[label].requests_per_second == route.requests_per_second / 2
        assert halved.routes[label].server_cpu_ms == route.server_cpu_ms  # CPU is a request's


# --- the docs page ----------------------------------------------------------------------


def _doc_script() -> Any:
    sys.path.insert(0, str(REPO / "scripts"))
    import cost_capacity_doc

    return cost_capacity_doc


def test_hand_check_fails_when_the_feed_rows_disagree_with_the_total() -> None:
    doc = _doc_script()
    cost = copy.deepcopy(rendered("defaults").previews["prod"]["cost"])
    table = doc.hand_check("eu-west-1", cost)
    assert table[-1].endswith(f"**{cost['total_monthly_usd']:,.2f}** |")
    cost["total_monthly_usd"] += 0.05
    with pytest.raises(AssertionError, match="the feed rows give"):
        doc.hand_check("eu-west-1", cost)


def test_docs_example_is_produced_by_the_real_commands(tmp_path: Path) -> None:
    doc = _doc_script()
    assert doc.ANSWERS["eu-west-1"] == ANSWER_SETS["defaults"] == {}
    us = render(tmp_path / "us-east-1" / "demo-service", doc.ANSWERS["us-east-1"]) / "infra"
    page = doc.build({"eu-west-1": rendered("defaults").infra, "us-east-1": us})
    assert doc.PAGE.read_text() == page, (
        "docs/cost-and-capacity.md is stale: run `uv run python scripts/cost_capacity_doc.py`"
    )
