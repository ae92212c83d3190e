"""Hand-picked copier answer sets that together cover every value of every question.

Each set has a readable id. `runs_tests` says whether the rendered service's own test suite
runs: the machines have Python 3.11, so services rendered for 3.12 and 3.13 are checked by
render and lint only.
"""

from dataclasses import dataclass, field
from typing import Any

HOSTED_ZONE_ID = "Z0123456789ABCDEFGHIJ"
# prod requires an alarm address (the stack config refuses a prod stack without one).
ALARM_EMAIL = "oncall@example.com"


@dataclass(frozen=True)
class AnswerSet:
    id: str
    answers: dict[str, Any] = field(default_factory=dict)
    runs_tests: bool = True

    @property
    def python_version(self) -> str:
        return str(self.answers.get("python_version", "3.11"))


DEFAULTS = AnswerSet("defaults", {"alarm_email": ALARM_EMAIL})

ANSWER_SETS = [
    DEFAULTS,
    AnswerSet(
        "redis-broker-no-cdn-no-replicas",
        {
            "alarm_email": ALARM_EMAIL,
            "project_name": "Billing API",
            "description": "Invoices and payments.",
            "aws_region": "us-east-1",
            "read_replicas": 0,
            "cdn": False,
            "broker": "redis",
        },
    ),
    AnswerSet(
        "domain-five-replicas",
        {
            "alarm_email": ALARM_EMAIL,
            "project_name": "Catalog Service",
            "aws_region": "ap-southeast-2",
            "read_replicas": 5,
            "domain_name": "api.example.com",
            "hosted_zone_id": HOSTED_ZONE_ID,
        },
    ),
    AnswerSet(
        "custom-slug-four-replicas",
        {
            "alarm_email": ALARM_EMAIL,
            "project_name": "Ledger",
            "project_slug": "ledger-core-2",
            "aws_region": "sa-east-1",
            "read_replicas": 4,
            "broker": "redis",
            "domain_name": "ledger.example.org",
            "hosted_zone_id": "Z9ABCDEF",
        },
    ),
    AnswerSet(
        "python312-two-replicas-no-cdn",
        {
            "alarm_email": ALARM_EMAIL,
            "project_name": "Search Indexer",
            "python_version": "3.12",
            "aws_region": "eu-central-1",
            "read_replicas": 2,
            "cdn": False,
        },
        runs_tests=False,
    ),
    AnswerSet(
        "python313-three-replicas-domain-redis",
        {
            "alarm_email": ALARM_EMAIL,
            "project_name": "Notifications",
            "python_version": "3.13",
            "aws_region": "ca-central-1",
            "read_replicas": 3,
            "broker": "redis",
            "domain_name": "notify.example.net",
            "hosted_zone_id": HOSTED_ZONE_ID,
        },
        runs_tests=False,
    ),
]
