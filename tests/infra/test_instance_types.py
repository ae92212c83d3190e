"""The policies' instance-type data is what cfn-lint (the maintained source) says today."""

from __future__ import annotations

import importlib.util

from rendered_services import REPO
from tenfold_infra.policies.platform import _sold, sold_in

DATA = REPO / "pulumi" / "tenfold_infra" / "policies" / "instance_types.json"


def generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "instance_types", REPO / "scripts" / "instance_types.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_data_file_matches_cfn_lint() -> None:
    script = generator()
    assert DATA.read_text() == script.render(script.build()), (
        "instance_types.json is stale: run .venv/bin/python scripts/instance_types.py"
    )


def test_lookups_follow_the_data() -> None:
    data = _sold()
    assert sold_in(data["rds"]["postgres"], "db.r7g.large", "eu-west-1") is True
    assert sold_in(data["rds"]["postgres"], "db.m5.large", "mx-central-1") is False
    assert sold_in(data["mq"], "mq.m7g.medium", "eu-central-1") is True
    assert sold_in(data["elasticache"], "cache.r7g.large", "us-east-1") is True
    assert sold_in(data["elasticache"], "cache.nonexistent.large", "us-east-1") is False
    assert sold_in(data["mq"], "mq.m7g.large", "xx-nowhere-1") is None


def test_every_region_copier_offers_is_in_the_data() -> None:
    import yaml

    validator = yaml.safe_load((REPO / "copier.yml").read_text())["aws_region"]["validator"]
    offered = {
        r for r in validator.replace("\n", " ").split("'") if r.count("-") >= 2 and " " not in r
    }
    data = _sold()
    for kind in (data["rds"]["postgres"], data["elasticache"], data["mq"]):
        assert offered <= set(kind["regions"]), offered - set(kind["regions"])
