from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from app.settings import DEVELOPMENT_JWT_SECRET_KEY, Environment, Settings, with_password

STRONG_KEY = "a-production-secret-key-of-at-least-32-bytes"


def test_embedded_defaults_need_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "ENVIRONMENT", "JWT_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.database_url.startswith("sqlite+aiosqlite://")
    assert settings.read_replica_urls == []
    assert settings.redis_url == ""
    assert settings.port == 8000


def test_environment_variables_override_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://app@db:5432/app")
    monkeypatch.setenv(
        "DATABASE_READ_URLS",
        "postgresql+asyncpg://app@r1:5432/app, postgresql+asyncpg://app@r2:5432/app",
    )
    monkeypatch.setenv("DATABASE_PASSWORD", "p@ss/word")
    monkeypatch.setenv("ACCESS_TOKEN_TTL_SECONDS", "300")
    settings = Settings(_env_file=None)
    assert settings.primary_database_url == "postgresql+asyncpg://app:p%40ss%2Fword@db:5432/app"
    assert settings.read_replica_urls == [
        "postgresql+asyncpg://app:p%40ss%2Fword@r1:5432/app",
        "postgresql+asyncpg://app:p%40ss%2Fword@r2:5432/app",
    ]
    assert settings.access_token_ttl_seconds == 300


def test_passwords_are_injected_into_redis_and_broker_urls() -> None:
    settings = Settings(
        _env_file=None,
        redis_url="rediss://cache.example:6379/0",
        redis_password=SecretStr("token"),
        broker_url="amqps://app@mq.example:5671",
        broker_password=SecretStr("secret"),
    )
    assert settings.redis_url_with_password == "rediss://:token@cache.example:6379/0"
    assert settings.broker_url_with_password == "amqps://app:secret@mq.example:5671"


def test_with_password_leaves_an_empty_url_alone() -> None:
    assert with_password("", "secret") == ""
    assert with_password("redis://h:6379", None) == "redis://h:6379"


def test_production_refuses_the_development_jwt_key() -> None:
    with pytest.raises(ValidationError, match="refuses the development JWT_SECRET_KEY"):
        Settings(
            _env_file=None,
            environment=Environment.PRODUCTION,
            database_url="postgresql+asyncpg://app@db:5432/app",
            jwt_secret_key=SecretStr(DEVELOPMENT_JWT_SECRET_KEY),
        )


def test_production_refuses_sqlite() -> None:
    with pytest.raises(ValidationError, match="refuses an SQLite DATABASE_URL"):
        Settings(
            _env_file=None, environment=Environment.PRODUCTION, jwt_secret_key=SecretStr(STRONG_KEY)
        )


def test_production_accepts_real_settings() -> None:
    settings = Settings(
        _env_file=None,
        environment=Environment.PRODUCTION,
        database_url="postgresql+asyncpg://app@db:5432/app",
        jwt_secret_key=SecretStr(STRONG_KEY),
        metrics_port=9100,
        allowed_hosts=["api.example.com"],
    )
    assert settings.environment == "production"
    assert not settings.docs_enabled


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param("database_url", "mysql://db/app", "unsupported database URL scheme", id="db"),
        pytest.param("database_read_urls", "postgres://r1/app", "unsupported database", id="read"),
        pytest.param("jwt_secret_key", "short", "at least 32 bytes", id="short-jwt-key"),
        pytest.param("port", "70000", "less than or equal to 65535", id="port"),
        pytest.param("environment", "staging", "development", id="environment"),
        pytest.param("database_pool_size", "0", "greater than or equal to 1", id="pool-size"),
    ],
)
def test_invalid_values_are_rejected_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, field: str, value: str, message: str
) -> None:
    monkeypatch.setenv(field.upper(), value)
    with pytest.raises(ValidationError, match=message) as error:
        Settings(_env_file=None)
    assert field in str(error.value)
