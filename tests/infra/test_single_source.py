"""Every stack default is written once: on its knob, never again in a stack file, an args class
or the docs. A copy fails here, whichever side it is added on."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import jinja2
import pytest
import yaml
from rendered_services import REPO
from tenfold_infra import database, load_balancer, registry, service
from tenfold_infra.config import (
    COMPONENT_SETTINGS,
    KEYS,
    StackConfig,
    keys_table,
    parse_config,
    tier_defaults,
)
from tenfold_infra.knobs import knobs_of

# The keys a stack file may carry: the ones whose value comes from a copier answer.
ANSWER_KEYS = {"tier", "readReplicas", "cdn", "broker", "domainName", "hostedZoneId", "alarmEmail"}
ANSWERS: dict[str, dict[str, Any]] = {
    "defaults": {"read_replicas": 1, "cdn": True, "broker": "rabbitmq", "domain_name": ""},
    "everything-else": {
        "read_replicas": 0,
        "cdn": False,
        "broker": "redis",
        "domain_name": "api.example.com",
        "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    },
}


def stack_file(stack: str, answers: dict[str, Any]) -> dict[str, str]:
    """The project's keys of Pulumi.<stack>.yaml as copier renders it, as Pulumi reads them."""
    source = (REPO / "template" / "infra" / f"Pulumi.{stack}.yaml.jinja").read_text()
    text = (
        jinja2.Environment(keep_trailing_newline=True, autoescape=False)  # noqa: S701 (YAML, not HTML)
        .from_string(source)
        .render(
            project_slug="demo",
            aws_region="eu-west-1",
            alarm_email="oncall@example.com",
            **{"hosted_zone_id": "", **answers},
        )
    )
    config = yaml.safe_load(text)["config"]
    return {
        key.split(":", 1)[1]: value if isinstance(value, str) else json.dumps(value)
        for key, value in config.items()
        if key.startswith("demo:")
    }


@pytest.mark.parametrize("answers", list(ANSWERS), ids=list(ANSWERS))
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_carry_only_copier_answers(stack: str, answers: str) -> None:
    keys = stack_file(stack, ANSWERS[answers])
    copied = sorted(set(keys) - ANSWER_KEYS)
    assert not copied, (
        f"Pulumi.{stack}.yaml.jinja writes {copied}: their default lives on the knob "
        "(tenfold_infra/knobs.py); a copy in the stack file would pin every new service to it"
    )


def test_each_key_is_declared_once() -> None:
    assert len(KEYS) == len(set(KEYS)), sorted(k for k in KEYS if KEYS.count(k) > 1)


@pytest.mark.parametrize(
    ("args", "settings"),
    [
        (database.DatabaseArgs, database.DatabaseSettings),
        (load_balancer.LoadBalancerArgs, load_balancer.LoadBalancerSettings),
        (service.ServiceArgs, service.ServiceSettings),
    ],
)
def test_component_args_hold_no_copy_of_a_knob(args: type, settings: type) -> None:
    """The args take the settings object; a field of the same name would be a second default."""
    knob_fields = {name for name, _, _ in knobs_of(settings)}
    assert not knob_fields & {f.name for f in dataclasses.fields(args)}


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (database.DatabaseArgs, "deletion_protection"),
        (database.DatabaseArgs, "log_retention_days"),
        (load_balancer.LoadBalancerArgs, "deletion_protection"),
        (service.ServiceArgs, "log_retention_days"),
        (registry.RegistryArgs, "cpu_architecture"),
    ],
)
def test_stack_wide_knobs_have_no_second_default(args: type, field: str) -> None:
    """Knobs of StackConfig (or of another component) reach a component as required args."""
    (found,) = [f for f in dataclasses.fields(args) if f.name == field]
    assert found.default is dataclasses.MISSING


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_old_stack_files_with_every_default_written_out_still_work(stack: str) -> None:
    """A service generated before has each tier default in its stack file (`copier update`
    keeps the lines its user edited): explicit values are the user's, and mean the same."""
    minimal = stack_file(stack, ANSWERS["defaults"])
    written_out: dict[str, str] = {}
    for settings in (StackConfig, *COMPONENT_SETTINGS.values()):
        for key, value in tier_defaults(settings, stack).items():
            if value is not None:
                written_out[key] = str(value).lower() if isinstance(value, bool) else str(value)
    old = {**written_out, **minimal}
    assert parse_config("demo", stack, old, "eu-west-1") == parse_config(
        "demo", stack, minimal, "eu-west-1"
    )
    edited = {**old, "appMaxTasks": "20"}
    assert parse_config("demo", stack, edited, "eu-west-1").service.max_tasks == 20


def test_docs_table_is_printed_from_the_knobs() -> None:
    table = REPO / "docs" / "assets" / "stack-keys-table.md"
    assert table.read_text() == keys_table(), (
        "docs/assets/stack-keys-table.md is stale: run "
        "`cd pulumi && python -m tenfold_infra keys > ../docs/assets/stack-keys-table.md`"
    )


def test_service_readme_lists_no_key_by_hand() -> None:
    """The generated service's README points to `keys` instead of repeating the list."""
    readme = (REPO / "template" / "infra" / "README.md").read_text()
    assert "python -m tenfold_infra keys" in readme
    assert "`workerMaxTasks`" not in readme
