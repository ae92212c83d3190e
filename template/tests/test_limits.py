"""The open-files limit a process needs follows from its connection settings."""

from __future__ import annotations

import logging
import resource

import pytest

from app.limits import RESERVED_FILES, required_open_files
from app.server import warn_if_open_files_too_low
from app.settings import Settings


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_each_client_connection_database_connection_and_replica_pool_needs_a_file() -> None:
    settings = _settings(
        server_max_connections=100,
        database_pool_size=10,
        database_max_overflow=5,
        database_read_urls="postgresql+asyncpg://r1/app,postgresql+asyncpg://r2/app",
    )
    assert required_open_files(settings) == 2 * 100 + 15 * 3 + RESERVED_FILES


def test_more_connections_need_a_higher_limit() -> None:
    assert required_open_files(_settings(server_max_connections=1000)) > required_open_files(
        _settings(server_max_connections=100)
    )


def test_the_server_warns_when_the_limit_is_too_low(caplog: pytest.LogCaptureFixture) -> None:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with caplog.at_level(logging.WARNING, logger="app.server"):
        assert warn_if_open_files_too_low(_settings(server_max_connections=soft)) is True
    assert "open-files limit" in caplog.text
    assert warn_if_open_files_too_low(_settings(server_max_connections=1)) is False
