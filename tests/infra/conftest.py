"""Fixtures: rendered services (see rendered_services.py), shared by the whole session."""

from __future__ import annotations

import pytest
from rendered_services import ANSWER_SETS, Rendered, remove_renders, rendered


def pytest_sessionfinish() -> None:
    remove_renders()


@pytest.fixture(scope="session", params=list(ANSWER_SETS), ids=list(ANSWER_SETS))
def service(request: pytest.FixtureRequest) -> Rendered:
    return rendered(request.param)


@pytest.fixture(scope="session")
def default_service() -> Rendered:
    return rendered("defaults")
