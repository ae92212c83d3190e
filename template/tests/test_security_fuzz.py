"""Schemathesis against the app's own OpenAPI document, in-process over ASGI (SQLite).

Every operation gets generated requests, valid ones (positive) and invalid ones
(negative), sent with a real user's access token. Each response is checked by
schemathesis's default checks: no 5xx, status code and content type declared in the
document, body and headers matching the declared schema, valid data accepted, invalid
data refused, auth enforced where declared. tests/integration/test_api_fuzz.py runs
the same at >= 1,000 cases against PostgreSQL with a replica and Redis; this small
variant keeps the unit suite honest about the document.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import hypothesis.errors
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, assume, given
from hypothesis import settings as hypothesis_settings
from schemathesis.python import asgi

from app.main import create_app
from app.settings import Settings

FUZZ_EMAIL = "fuzz@example.com"
FUZZ_PASSWORD = "fuzz password 1"
EXAMPLES_PER_MODE = 6  # about 120 cases: the unit suite's share; integration runs 1,000+
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)

# Statuses that count as "valid data accepted" (positive_data_acceptance): schemathesis's
# defaults plus 400, because a cursor is opaque: a string the API did not issue is a
# 400, and no schema can tell generated strings from issued cursors.
POSITIVE_ACCEPTED = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]


def fuzz_settings(settings: Settings) -> Settings:
    """The app under test: the login rate limit (tested on its own) would make every
    login after the tenth a 429, so the fuzzer could no longer reach the handler; and the
    password strength check (tested on its own) refuses schema-valid passwords such as
    "00000000" with a 422 that no JSON schema can announce."""
    return settings.model_copy(
        update={"login_attempts_per_window": 0, "password_min_strength": 0, "log_level": "ERROR"}
    )


def _bearer_token(app: FastAPI) -> str:
    """A registered user's access token, through the same ASGI client schemathesis uses."""
    client = asgi.get_client(cast("asgi.ASGIApp", app))
    credentials = {"email": FUZZ_EMAIL, "password": FUZZ_PASSWORD}
    registered = client.post(f"http://{asgi.HOST}/api/v1/auth/register", json=credentials)
    assert registered.status_code == 202, registered.text
    response = client.post(f"http://{asgi.HOST}/api/v1/auth/login", json=credentials)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def load_schema(app: FastAPI) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "auth": {"openapi": {"HTTPBearer": {"bearer": _bearer_token(app)}}},
            # FastAPI ignores unknown query parameters, as HTTP APIs conventionally do
            # (cache busters, tracking tags); sending them proves nothing.
            "generation": {"allow-extra-parameters": False},
            "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_ACCEPTED}},
        }
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


@dataclass
class FuzzReport:
    cases: collections.Counter[str] = field(default_factory=collections.Counter)
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    def summary(self) -> str:
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return (
            f"schemathesis: {self.total} cases over {len(self.cases)} operation x mode runs in "
            f"{self.seconds:.1f} s; statuses {statuses}; failures {len(self.failures)}"
        )


def fuzz(app: FastAPI, *, examples_per_mode: int) -> FuzzReport:
    """Run every operation in both modes; failures are collected, not raised, so one
    run reports all of them."""
    schema = load_schema(app)
    report = FuzzReport()
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in MODES:
            _fuzz_operation(operation, mode, examples_per_mode, report)
    report.seconds = time.monotonic() - started
    return report


def _breaks_a_rule_between_parameters(case: Any) -> bool:
    """Rules between parameters that OpenAPI cannot state (their descriptions do): such a
    request is invalid, so "valid data" must not include it. Negative mode still sends it."""
    query = case.query or {}
    low, high = query.get("min_price_cents"), query.get("max_price_cents")
    return isinstance(low, int) and isinstance(high, int) and low > high


def _fuzz_operation(operation: Any, mode: Any, examples: int, report: FuzzReport) -> None:
    label = f"{operation.label} [{mode.value}]"

    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        if mode is schemathesis.GenerationMode.POSITIVE:
            assume(not _breaks_a_rule_between_parameters(case))
        report.cases[label] += 1
        response = case.call_and_validate()
        report.statuses[response.status_code] += 1

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        pass  # no parameters to break: nothing negative to send
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # noqa: BLE001 - hypothesis may group failures
        report.failures[label] = str(error)


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
    report = fuzz(app, examples_per_mode=EXAMPLES_PER_MODE)
    report_and_check(report, capsys)
    # Every operation of the document ran, in both modes where it has inputs.
    assert len(report.cases) >= 2 * len(app.openapi()["paths"]) - 4
    assert report.total >= 100
