"""The edge lets through every body the app accepts and refuses larger declared ones; the
number is the app's own default, read from app/settings.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rendered_services import REPO, Rendered
from tenfold_infra.app_limits import request_body_limit
from tenfold_infra.config import ConfigError
from tenfold_infra.waf import content_length_over


@pytest.mark.parametrize("limit", [1, 9, 10, 999, 1000, 8192, 1_048_576, 10**9 - 1])
def test_the_content_length_pattern_matches_exactly_the_larger_numbers(limit: int) -> None:
    pattern = re.compile(content_length_over(limit))
    around = range(max(0, limit - 1500), limit + 1500)
    for size in [0, 1, *around, 10 * limit + 7, 10**12]:
        assert bool(pattern.search(str(size))) == (size > limit), size
    assert pattern.search(f" 000{limit + 1} ")
    assert not pattern.search("12a")
    assert len(content_length_over(limit)) <= 512  # WAF's RegexString limit


def test_the_limit_is_the_apps_default() -> None:
    settings = REPO / "template" / "app" / "settings.py"
    assert request_body_limit(settings) == 1_048_576


@pytest.mark.parametrize(
    "source",
    [
        "class HttpSettings:\n    max_request_body_bytes: int = Field(default=compute())\n",
        "class Other:\n    max_request_body_bytes: int = Field(1024)\n",
    ],
)
def test_an_unreadable_limit_says_how_to_write_it(tmp_path: Path, source: str) -> None:
    settings = tmp_path / "settings.py"
    settings.write_text(source)
    with pytest.raises(ConfigError, match=r"literal default in bytes"):
        request_body_limit(settings)
    with pytest.raises(ConfigError, match="run from the service's infra/ directory"):
        request_body_limit(tmp_path / "missing.py")


def test_a_keyword_default_is_read(tmp_path: Path) -> None:
    settings = tmp_path / "settings.py"
    settings.write_text(
        "class HttpSettings:\n    max_request_body_bytes: int = Field(default=2_000)\n"
    )
    assert request_body_limit(settings) == 2000


def test_every_stack_passes_bodies_up_to_the_apps_limit(service: Rendered) -> None:
    for stack in ("dev", "prod"):
        (acl,) = service.resources(stack, "aws:wafv2/webAcl:WebAcl")
        rules = {r["name"]: r for r in acl["inputs"]["rules"]}
        body = rules["request-body-over-app-limit"]
        assert body["priority"] == 0
        assert body["action"]["block"]["customResponse"]["responseCode"] == 413
        pattern = body["statement"]["regexMatchStatement"]["regexString"]
        assert not re.search(pattern, "1048576")
        assert re.search(pattern, "1048577")
        overrides = rules["AWSManagedRulesCommonRuleSet"]["statement"]["managedRuleGroupStatement"][
            "ruleActionOverrides"
        ]
        assert overrides == [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
        (task,) = [
            t
            for t in service.resources(stack, "aws:ecs/taskDefinition:TaskDefinition")
            if t["name"].endswith("-app")
        ]
        app = next(
            c for c in json.loads(task["inputs"]["containerDefinitions"]) if c["name"] == "app"
        )
        assert {"name": "MAX_REQUEST_BODY_BYTES", "value": "1048576"} in app["environment"]
