"""Every invalid copier answer is rejected with a message that says what is valid.

Answers are passed as strings, exactly as `copier copy --data name=value` passes them, and the
destination must stay untouched: a rejected answer writes nothing.
"""

import subprocess
import sys
from pathlib import Path

import pexpect
import pytest
import yaml

from tests.answer_sets import HOSTED_ZONE_ID
from tests.conftest import TEMPLATE_ROOT, render

WITH_DOMAIN = {"domain_name": "api.example.com"}

# (question, bad value, extra answers it needs, a phrase the message must contain)
INVALID_ANSWERS = [
    ("project_name", "", {}, "project_name must not be empty"),
    ("project_name", "   ", {}, "project_name must not be empty"),
    ("project_name", "x" * 81, {}, "use at most 80"),
    ("project_name", 'Say "hi"', {}, "without double quotes"),
    ("project_slug", "Order", {}, "use lowercase letters a-z"),
    ("project_slug", "1service", {}, "starting with a letter"),
    ("project_slug", "order_service", {}, "use lowercase letters a-z"),
    ("project_slug", "order service", {}, "use lowercase letters a-z"),
    ("project_slug", "-order", {}, "starting with a letter"),
    ("project_slug", "ordér", {}, "use lowercase letters a-z"),
    ("project_slug", "s" * 41, {}, "use at most 40"),
    ("project_slug", "order-", {}, "must not end with '-'"),
    ("project_slug", "order--svc", {}, "contain '--'"),
    ("description", 'A "quoted" service', {}, "without double quotes"),
    ("description", "d" * 201, {}, "use at most 200"),
    ("python_version", "3.10", {}, "3.11"),
    ("python_version", "3.14", {}, "3.13"),
    ("python_version", "python3", {}, "3.12"),
    ("aws_region", "eu-west-9", {}, "not a commercial AWS region"),
    ("aws_region", "us-gov-west-1", {}, "not a commercial AWS region"),
    ("aws_region", "cn-north-1", {}, "not a commercial AWS region"),
    ("aws_region", "EU-WEST-1", {}, "choose one of us-east-1"),
    ("aws_region", "", {}, "not a commercial AWS region"),
    ("read_replicas", "6", {}, "[0, 1, 2, 3, 4, 5]"),
    ("read_replicas", "-1", {}, "[0, 1, 2, 3, 4, 5]"),
    ("read_replicas", "two", {}, "[0, 1, 2, 3, 4, 5]"),
    ("read_replicas", "2.5", {}, "[0, 1, 2, 3, 4, 5]"),
    ("read_replicas", "true", {}, "whole number from 0 to 5"),
    ("cdn", "maybe", {}, "[True, False]"),
    ("cdn", "1", {}, "cdn must be true or false"),
    ("broker", "kafka", {}, "['rabbitmq', 'redis']"),
    ("broker", "RabbitMQ", {}, "['rabbitmq', 'redis']"),
    ("domain_name", "https://api.example.com", {}, "not a valid hostname"),
    ("domain_name", "api.example.com.", {}, "no trailing dot"),
    ("domain_name", "API.example.com", {}, "lowercase labels"),
    ("domain_name", "localhost", {}, "not a valid hostname"),
    ("domain_name", "api_v1.example.com", {}, "not a valid hostname"),
    ("domain_name", "-api.example.com", {}, "not a valid hostname"),
    ("domain_name", "a" * 64 + ".example.com", {}, "not a valid hostname"),
    ("hosted_zone_id", "", WITH_DOMAIN, "not a Route 53 hosted zone id"),
    ("hosted_zone_id", "z0123", WITH_DOMAIN, "starts with Z"),
    ("hosted_zone_id", "Z012-345", WITH_DOMAIN, "uppercase letters and digits"),
    ("hosted_zone_id", "Z" + "A" * 40, WITH_DOMAIN, "not a Route 53 hosted zone id"),
    ("github_repository", "acme", {}, "use owner/name"),
    ("github_repository", "-acme/orders", {}, "no hyphen at either end"),
    ("github_repository", "ac--me/orders", {}, "not a GitHub repository"),
    ("github_repository", "acme/or ders", {}, "not a GitHub repository"),
    ("github_repository", "https://github.com/acme/orders", {}, "not a GitHub repository"),
    ("github_repository", "a" * 40 + "/orders", {}, "at most 39 characters"),
    ("alarm_email", "oncall", {}, "is not an email address"),
    ("alarm_email", "oncall@example", {}, "such as oncall@example.com"),
    ("alarm_email", "on call@example.com", {}, "is not an email address"),
]


@pytest.mark.parametrize(
    ("question", "value", "extra", "phrase"),
    INVALID_ANSWERS,
    ids=[f"{q}={v[:24]!r}" for q, v, _, _ in INVALID_ANSWERS],
)
def test_invalid_answer_is_rejected_and_nothing_is_written(
    tmp_path: Path, question: str, value: str, extra: dict[str, str], phrase: str
) -> None:
    destination = tmp_path / "service"
    with pytest.raises(ValueError, match=rf"'{question}'") as rejection:
        render(destination, {**extra, question: value})
    assert phrase in str(rejection.value)
    assert not destination.exists(), "a rejected answer must not leave files behind"


def test_every_question_has_help_a_default_and_a_validator_or_choices() -> None:
    questions = {
        name: spec
        for name, spec in yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text()).items()
        if not name.startswith("_")
    }
    assert set(questions) == {
        "project_name",
        "project_slug",
        "description",
        "python_version",
        "aws_region",
        "read_replicas",
        "cdn",
        "broker",
        "domain_name",
        "hosted_zone_id",
        "github_repository",
        "alarm_email",
    }
    tested = {question for question, *_ in INVALID_ANSWERS}
    for name, spec in questions.items():
        assert spec.get("help"), f"{name} has no help text"
        assert "validator" in spec, f"{name} has no validator"
        assert name in tested, f"{name} has no invalid-answer case"
        if name != "hosted_zone_id":  # asked only with a domain; no default can be sensible
            assert "default" in spec, f"{name} has no default"


def test_slug_is_derived_from_the_name(tmp_path: Path) -> None:
    service = render(tmp_path / "s", {"project_name": "  2 Fast & Furious: Orders API!  "})
    answers = yaml.safe_load((service / ".copier-answers.yml").read_text())
    assert answers["project_slug"] == "fast-furious-orders-api"


def test_hosted_zone_is_asked_only_with_a_domain(tmp_path: Path) -> None:
    without = render(tmp_path / "without", {})
    assert "hosted_zone_id" not in yaml.safe_load((without / ".copier-answers.yml").read_text())
    with_domain = render(tmp_path / "with", {**WITH_DOMAIN, "hosted_zone_id": HOSTED_ZONE_ID})
    assert (
        yaml.safe_load((with_domain / ".copier-answers.yml").read_text())["hosted_zone_id"]
        == HOSTED_ZONE_ID
    )


def test_command_line_data_error_names_the_question_and_writes_nothing(tmp_path: Path) -> None:
    destination = tmp_path / "service"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "copier",
            "copy",
            "--trust",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            "--data",
            "project_slug=Order_Service",
            str(TEMPLATE_ROOT),
            str(destination),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Validation error for question 'project_slug'" in result.stderr
    assert "use lowercase letters a-z, digits 0-9 and '-'" in result.stderr
    assert not destination.exists()


def test_interactive_prompt_rejects_a_bad_answer_and_accepts_the_fix(tmp_path: Path) -> None:
    """Drive copier's real prompt in a pseudo-terminal, as a person would."""
    destination = tmp_path / "service"
    child = pexpect.spawn(
        sys.executable,
        [
            "-m",
            "copier",
            "copy",
            "--trust",
            "--vcs-ref",
            "HEAD",
            str(TEMPLATE_ROOT),
            str(destination),
        ],
        env={
            "TERM": "xterm",
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "LANG": "C.UTF-8",
            "PROMPT_TOOLKIT_NO_CPR": "1",  # a pty answers no cursor-position requests
        },
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 200),
    )
    clear_line = "\x15"
    try:
        child.expect("Project name, as people read it")
        child.send(clear_line + "Order Service\r")
        child.expect("Slug used for the package")
        child.send(clear_line + "Order_Service\r")
        child.expect("use lowercase letters a-z, digits 0-9 and '-'")
        child.send(clear_line + "order-service\r")
        for prompt in [
            "One sentence that says what the service does",
            "Python version the service runs on",
            "AWS region to deploy to",
            "Number of PostgreSQL read replicas",
            "Provision a CloudFront CDN",
            "Message broker for background jobs",
            "Domain name the service answers on",
            "GitHub repository that deploys the service",
        ]:
            child.expect(prompt)
            child.send("\r")  # accept the default
        child.expect("Email address the production alarms are sent to")
        child.send(clear_line + "oncall@\r")
        child.expect("is not an email address")
        child.send(clear_line + "oncall@example.com\r")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    answers = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    assert answers["project_name"] == "Order Service"
    assert answers["project_slug"] == "order-service"
    assert answers["alarm_email"] == "oncall@example.com"
    prod = yaml.safe_load((destination / "infra" / "Pulumi.prod.yaml").read_text())["config"]
    assert prod["order-service:alarmEmail"] == "oncall@example.com"
