"""Every knob of the service, read from the environment with an embedded default.

The defaults run the service with nothing but Python (SQLite, in-process stores);
production points the same names at real servers. Secrets arrive separately
(``*_PASSWORD``) because ECS injects them from Secrets Manager, and are spliced into
their URLs here so the rest of the code only ever sees complete URLs.

The fields are grouped into one section class a package (``DatabaseSettings`` for
app/db/, ``JobSettings`` for app/jobs/...); ``Settings`` combines them, so every
environment variable keeps its one flat name.
"""

from __future__ import annotations

import re
from enum import StrEnum
from ipaddress import ip_address, ip_network
from typing import Annotated, Self
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app import about

# Public on purpose: production refuses it (see _refuse_development_defaults_in_production).
DEVELOPMENT_JWT_SECRET_KEY = "development-only-jwt-secret-key-do-not-use-in-production"  # noqa: S105
DATABASE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")
CORS_SCHEMES = ("http", "https")
MIN_ADMIN_TOKEN_LENGTH = 32


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


def with_password(url: str, password: str | None) -> str:
    """Return ``url`` with ``password`` set as its password (percent-encoded)."""
    if not password or not url:
        return url
    parts = urlsplit(url)
    if parts.hostname is None:
        raise ValueError(f"cannot add a password to {url!r}: it has no host")
    user = quote(parts.username or "", safe="")
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{user}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def check_cors_origins(origins: list[str]) -> list[str]:
    """Each origin is exactly scheme://host[:port], as browsers send it; '*' only alone."""
    if "*" in origins:
        if len(origins) > 1:
            raise ValueError(
                "CORS_ALLOW_ORIGINS: '*' allows every origin and must stand alone "
                f"(got {origins}); list explicit origins instead to allow only some"
            )
        return origins
    for origin in origins:
        parts = urlsplit(origin)
        try:
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            port_ok = False
        if (
            parts.scheme not in CORS_SCHEMES
            or not parts.hostname
            or not port_ok
            or parts.path
            or parts.query
            or parts.fragment
            or parts.username is not None
        ):
            raise ValueError(
                f"CORS_ALLOW_ORIGINS entry {origin!r} is not an origin: write "
                "scheme://host[:port] with http or https and no path, e.g. https://app.example.com"
            )
    return origins


_HOST_NAME = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


def check_allowed_hosts(hosts: list[str]) -> list[str]:
    """Each entry a host name (optionally *.domain) or an IP address, lower case; '*' alone."""
    if not hosts:
        raise ValueError(
            "ALLOWED_HOSTS is empty, so every request would be refused: list the host names "
            "clients use (e.g. api.example.com), or '*' outside production"
        )
    if "*" in hosts:
        if len(hosts) > 1:
            raise ValueError(
                f"ALLOWED_HOSTS: '*' allows every host and must stand alone (got {hosts})"
            )
        return hosts
    checked = []
    for host in hosts:
        name = host.lower()
        try:
            ip_address(name.strip("[]"))
        except ValueError:
            if len(name) > 253 or not _HOST_NAME.fullmatch(name):
                raise ValueError(
                    f"ALLOWED_HOSTS entry {host!r} is not a host name: write it as the Host "
                    "header carries it, without scheme, port or path, e.g. api.example.com "
                    "or *.example.com"
                ) from None
        checked.append(name.strip("[]"))
    return checked


def split_commas(value: object) -> object:
    """A comma-separated environment value as a list of its non-empty entries."""
    if isinstance(value, str):
        return [entry.strip() for entry in value.split(",") if entry.strip()]
    return value


def secret_value(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class ServerSettings(BaseSettings):
    """Serving and load balancing (app/server.py, app/api/health.py): port, drain, readiness."""

    port: int = Field(8000, ge=1, le=65535, description="TCP port the production server binds.")
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Serve /metrics only on this second port of `python -m app.server`, which "
        "the load balancer never routes (the infra opens it to the VPC alone); 0: /metrics on "
        "PORT, except in production, where metrics are then not served at all.",
    )
    server_max_connections: int = Field(
        256,
        ge=1,
        le=65535,
        description="The connection budget: client connections one instance serves at once "
        "(Granian's backpressure); as many more wait in the listen queue, which a freed "
        "slot empties first. Behind HAProxy set its per-server maxconn to it; it sizes the "
        "open-files limit (app/limits.py). More holds more idle keep-alive connections, at "
        "about 2 file descriptors each.",
    )
    server_idle_timeout_seconds: float = Field(
        10.0,
        ge=1,
        le=4000,
        description="A connection is closed when it has not delivered a complete request head "
        "this long after it opened or after its last answer: silent, slow (slowloris) and "
        "idle keep-alive clients alike (Granian times the three with one clock), so none "
        "holds a slot of the budget longer. Behind a load balancer make it longer than the "
        "balancer's idle timeout, so the balancer closes idle connections first (the stack "
        "sets it so); shorter frees slots sooner.",
    )
    server_http2_cleartext: bool = Field(
        False,
        description="Also speak HTTP/2 without TLS (h2c, prior knowledge) on PORT. Granian "
        "then reads each new connection's first bytes to tell the protocols apart, and that "
        "wait has no timeout: a client that connects and sends nothing holds its slot until "
        "it leaves. Off: HTTP/1.1, which is what load balancers speak to their targets.",
    )
    drain_delay_seconds: float = Field(
        5.0,
        ge=0,
        description="After SIGTERM, keep serving with /readyz failing this long so the load "
        "balancer stops routing here first; longer than its health-check detection time, and "
        "delay + timeout under the orchestrator's stop timeout (ECS: 30 s).",
    )
    drain_timeout_seconds: float = Field(
        20.0,
        gt=0,
        description="Then stop accepting and give in-flight requests this long to finish; "
        "longer spares slow requests, shorter makes deploys and scale-in faster.",
    )
    readiness_timeout_seconds: float = Field(
        2.0, gt=0, description="/readyz gives each dependency this long before reporting it down."
    )
    readiness_schema_check_ttl_seconds: float = Field(
        60.0,
        ge=0,
        description="/readyz trusts a schema found at (or ahead of) the code's Alembic head "
        "this long before reading alembic_version again; a schema behind is re-read on every "
        "poll. Longer saves a query per poll but notices a downgraded schema later.",
    )


class DatabaseSettings(BaseSettings):
    """The primary, its read replicas and their pools (app/db/)."""

    database_url: str = Field(
        "sqlite+aiosqlite:///./app.db",
        description="Primary database (writes, transactions). "
        "sqlite+aiosqlite:///path or postgresql+asyncpg://user@host:5432/db.",
    )
    database_read_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated read-replica URLs; empty sends reads to the primary.",
    )
    database_password: SecretStr | None = Field(
        None, description="Injected into DATABASE_URL and every DATABASE_READ_URLS entry."
    )
    database_pool_size: int = Field(
        10, ge=1, description="Connections kept open per engine; more costs server memory."
    )
    database_max_overflow: int = Field(
        10, ge=0, description="Extra connections allowed above the pool size under bursts."
    )
    database_pool_timeout_seconds: float = Field(
        5.0, gt=0, description="How long a request waits for a pooled connection before failing."
    )
    database_pool_recycle_seconds: int = Field(
        1800, ge=-1, description="Reconnect connections older than this (-1: never)."
    )
    database_connect_timeout_seconds: float = Field(
        5.0, gt=0, description="Timeout for opening a new PostgreSQL connection."
    )
    database_statement_timeout_seconds: float = Field(
        10.0, ge=0, description="PostgreSQL statement_timeout; stops runaway queries (0: none)."
    )
    database_slow_query_threshold_ms: float = Field(
        500.0,
        ge=0,
        description="Log statements slower than this on logger app.db.slow_queries (0: off); "
        "lower finds more slow queries but logs more.",
    )
    database_replica_max_lag_seconds: float = Field(
        5.0,
        gt=0,
        description="A replica further behind the primary than this is skipped for reads; "
        "lower serves fresher data but falls back to the primary more often.",
    )
    database_replica_status_ttl_seconds: float = Field(
        1.0,
        gt=0,
        description="How long a replica's measured lag and replay LSN are trusted before "
        "re-checking; longer saves round trips but notices lag later.",
    )
    database_replica_down_backoff_seconds: float = Field(
        5.0,
        gt=0,
        description="A replica that failed to answer is skipped for this long, so a dead "
        "replica costs one connect attempt per backoff instead of one per request.",
    )
    database_read_your_writes_window_seconds: int = Field(
        60,
        ge=0,
        description="Lifetime of the read_after_lsn cookie set after a write: the client's "
        "reads wait for a replica that has replayed its write (0: no cookie, header only). "
        "Keep it above DATABASE_REPLICA_MAX_LAG_SECONDS.",
    )

    @field_validator("database_read_urls", mode="before")
    @classmethod
    def _split_read_urls(cls, value: object) -> object:
        return split_commas(value)

    @field_validator("database_url", "database_read_urls")
    @classmethod
    def _check_database_scheme(cls, value: str | list[str]) -> str | list[str]:
        for url in [value] if isinstance(value, str) else value:
            scheme = url.partition("://")[0]
            if scheme not in DATABASE_SCHEMES:
                raise ValueError(
                    f"unsupported database URL scheme {scheme!r}: "
                    f"use one of {', '.join(DATABASE_SCHEMES)} (got {url!r})"
                )
        return value

    @property
    def primary_database_url(self) -> str:
        """DATABASE_URL with DATABASE_PASSWORD spliced in."""
        return with_password(self.database_url, secret_value(self.database_password))

    @property
    def read_replica_urls(self) -> list[str]:
        """DATABASE_READ_URLS with DATABASE_PASSWORD spliced into each."""
        password = secret_value(self.database_password)
        return [with_password(url, password) for url in self.database_read_urls]


class StoreSettings(BaseSettings):
    """The TTL store (app/stores/) and the cache-aside on it (app/cache.py)."""

    redis_url: str = Field(
        "", description="Cache and refresh-token store; empty uses an in-process TTL store."
    )
    redis_password: SecretStr | None = Field(None, description="Injected into REDIS_URL.")
    redis_socket_timeout_seconds: float = Field(
        0.25,
        gt=0,
        description="Connect and read timeout of each Redis command; short, "
        "because the database can always answer instead of the cache.",
    )
    cache_ttl_seconds: int = Field(
        60,
        ge=1,
        description="How long cached items and first catalog pages live; longer "
        "saves more database reads but shows data changed outside the API later.",
    )
    cache_ttl_jitter_ratio: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Adds up to this fraction of the TTL at random, so keys "
        "written together do not all expire (and recompute) at the same moment.",
    )
    cache_lock_timeout_ms: int = Field(
        2000,
        ge=10,
        description="Cross-instance recompute lock: other instances wait up to "
        "this long for the value before loading it themselves; cover a slow query.",
    )
    cache_circuit_open_seconds: float = Field(
        5.0,
        ge=0,
        description="After a cache error, bypass the cache this long before "
        "trying it again, so a dead Redis does not add a timeout to every request.",
    )
    near_cache_ttl_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        description="With Redis: keep hot cache keys in each process's memory this long "
        "(0 turns it off). Writes reach every instance's copy at once through Redis "
        "pub/sub; this bounds how stale a copy can be if that message is lost.",
    )
    cache_fill_budget_bytes: int = Field(
        32 * 1024 * 1024,
        ge=0,
        description="Bytes of new entries each cached route (catalog pages, items) may store "
        "per CACHE_TTL_SECONDS window, across all instances; past it that route's misses are "
        "answered from the database and not stored until the window ends. Bounds what "
        "distinct URLs can make the cache hold: about twice this per route (0: no bound).",
    )
    near_cache_max_entries: int = Field(
        1024,
        ge=1,
        description="Keys each process keeps in memory at most (least recently stored go "
        "first); NEAR_CACHE_MAX_BYTES bounds what they take.",
    )
    near_cache_max_bytes: int = Field(
        32 * 1024 * 1024,
        ge=1,
        description="Bytes each process's in-memory copies take at most (keys, bodies and "
        "about 200 bytes per entry); larger keeps more hot keys off Redis, at the cost of "
        "process memory.",
    )

    @property
    def redis_url_with_password(self) -> str:
        return with_password(self.redis_url, secret_value(self.redis_password))


class JobSettings(BaseSettings):
    """Background jobs: broker, outbox relay and worker (app/jobs/)."""

    broker_url: str = Field(
        "", description="amqp(s):// for RabbitMQ, redis(s):// for Redis; empty runs in-process."
    )
    broker_password: SecretStr | None = Field(None, description="Injected into BROKER_URL.")
    jobs_queue_name: str = Field(
        "jobs", description="Queue (RabbitMQ) or stream (Redis) name; DLQ is '<name>.dead-letter'."
    )
    jobs_max_attempts: int = Field(
        5, ge=1, description="Attempts before a failing job goes to the dead-letter queue."
    )
    jobs_retry_base_delay_seconds: float = Field(
        1.0,
        ge=0,
        description="First retry delay; doubles per attempt (with jitter). "
        "Shorter recovers sooner, longer spares a struggling dependency.",
    )
    jobs_retry_max_delay_seconds: float = Field(
        300.0, ge=0, description="Cap on the retry delay, however many attempts failed."
    )
    jobs_prefetch_count: int = Field(
        16,
        ge=1,
        description="RabbitMQ messages a worker holds unacked; more hides latency, "
        "fewer spreads work evenly across workers.",
    )
    jobs_visibility_timeout_seconds: float = Field(
        300.0,
        gt=0,
        description="Redis: a job pending this long (its worker died) is taken over by another; "
        "must exceed the longest job.",
    )
    jobs_publish_timeout_seconds: float = Field(
        5.0, gt=0, description="Budget for connecting to the broker and for one publish confirm."
    )
    worker_heartbeat_path: str = Field(
        "/tmp/worker-heartbeat",  # noqa: S108 - a liveness marker, not a secret or a temp file
        description="File the worker touches while it can consume; `python -m app.jobs.health` "
        "(the container health check) reads its age.",
    )
    worker_heartbeat_max_age_seconds: float = Field(
        60.0,
        gt=0,
        description="`python -m app.jobs.health` fails when the heartbeat is older than this; "
        "shorter replaces a stuck worker sooner, but must exceed the broker backoff "
        "(OUTBOX_RELAY_MAX_BACKOFF_SECONDS) so a brief broker blip restarts nothing.",
    )
    jobs_depth_report_seconds: float = Field(
        30.0,
        ge=0,
        description="The worker logs the jobs queue depth as a CloudWatch Embedded Metric "
        "Format line this often, for scaling workers on backlog (0: never); shorter scales "
        "sooner but costs a broker query and a log line each time.",
    )
    outbox_relay_in_app: bool = Field(
        True,
        description="The app process relays its own outbox rows right after commit "
        "(lowest latency); off leaves relaying to the workers.",
    )
    outbox_relay_interval_seconds: float = Field(
        0.5,
        gt=0,
        description="How often the relay polls for due rows (commits in this process wake "
        "it at once); shorter lowers retry/cross-process latency, costs queries.",
    )
    outbox_relay_max_backoff_seconds: float = Field(
        30.0, gt=0, description="Longest pause between relay attempts while the broker is down."
    )
    outbox_batch_size: int = Field(
        100,
        ge=1,
        description="Rows one relay locks and publishes per transaction; larger is faster, "
        "holds row locks longer.",
    )
    outbox_retention_seconds: float = Field(
        86400.0,
        gt=0,
        description="Sent outbox rows and processed-job ids are kept this long "
        "(redeliveries older than this are no longer recognised as duplicates).",
    )

    @property
    def broker_url_with_password(self) -> str:
        return with_password(self.broker_url, secret_value(self.broker_password))


class AuthSettings(BaseSettings):
    """Access and refresh tokens, the login rate limit and who the client is (app/auth/)."""

    jwt_secret_key: SecretStr = Field(
        SecretStr(DEVELOPMENT_JWT_SECRET_KEY),
        description="HS256 key signing access tokens; at least 32 bytes.",
    )
    access_token_ttl_seconds: int = Field(
        900,
        ge=30,
        le=86400,
        description="Access-token lifetime; shorter limits a stolen token, longer refreshes less.",
    )
    refresh_token_ttl_seconds: int = Field(
        14 * 86400, ge=60, description="Refresh-token lifetime: how long a session lasts idle."
    )
    login_attempts_per_window: int = Field(
        10,
        ge=0,
        description="Login attempts allowed per client IP and, separately, per account email "
        "in each window; more answer 429 with Retry-After (0: no limit).",
    )
    login_network_attempts_per_window: int = Field(
        20,
        ge=0,
        description="Login attempts allowed per client network (RATE_LIMIT_IPV4_PREFIX_LENGTH "
        "/ RATE_LIMIT_IPV6_PREFIX_LENGTH) in each window, so rotating addresses within one "
        "allocation (an IPv6 subscriber holds a whole /64) does not lift the per-IP limit "
        "(0: no limit); higher lets more users behind one network log in at once.",
    )
    login_window_seconds: int = Field(
        60,
        ge=1,
        le=86400,
        description="Length of the login rate-limit window; longer slows brute force more "
        "but locks out a mistyping user for longer.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated IPs or CIDRs of load balancers whose X-Forwarded-For is "
        "believed (e.g. 10.0.0.0/8); empty: the TCP peer is the client.",
    )
    client_ip_header: str = Field(
        "",
        description="Header a trusted proxy sets to the viewer's IP:port, e.g. "
        "CloudFront-Viewer-Address behind CloudFront; believed only from TRUSTED_PROXIES peers, "
        "ahead of X-Forwarded-For. Empty: X-Forwarded-For only.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_trusted_proxies(cls, value: object) -> object:
        return split_commas(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"TRUSTED_PROXIES entry {entry!r} is not an IP address or CIDR "
                    "(e.g. 10.0.0.5 or 10.0.0.0/8)"
                ) from None
        return value

    @field_validator("jwt_secret_key")
    @classmethod
    def _check_jwt_key_length(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode()) < 32:
            raise ValueError("JWT_SECRET_KEY must be at least 32 bytes long for HS256")
        return value


class AccountSecuritySettings(BaseSettings):
    """Abuse limits on accounts and sessions (app/auth/): sign-up limits, bounded password
    hashing, password strength, refresh retries, revocation and token claims."""

    registration_attempts_per_window: int = Field(
        5,
        ge=0,
        description="Sign-ups allowed per client IP in each registration window; more answer "
        "429 with Retry-After (0: no limit). Each costs an argon2 hash, so keep it low.",
    )
    registration_network_attempts_per_window: int = Field(
        20,
        ge=0,
        description="Sign-ups allowed per client network (RATE_LIMIT_IPV4_PREFIX_LENGTH / "
        "RATE_LIMIT_IPV6_PREFIX_LENGTH) in each window, so rotating addresses within one "
        "allocation does not lift the per-IP limit (0: no limit).",
    )
    registration_window_seconds: int = Field(
        3600,
        ge=1,
        le=86400,
        description="Length of the registration rate-limit window; longer slows mass sign-ups "
        "more, but a shared office address waits longer after its quota.",
    )
    rate_limit_ipv4_prefix_length: int = Field(
        24,
        ge=8,
        le=32,
        description="IPv4 addresses in one /N network share the per-network limits; smaller N "
        "catches more rotation but lumps more neighbours together.",
    )
    rate_limit_ipv6_prefix_length: int = Field(
        64,
        ge=16,
        le=128,
        description="IPv6 addresses in one /N network share the per-network limits (a /64 is "
        "one subscriber's LAN).",
    )
    password_hashing_concurrency: int = Field(
        2,
        ge=1,
        le=64,
        description="argon2 hashes (sign-up, login) one process runs at once; each takes "
        "64 MiB and most of a core, so this bounds their memory (N x 64 MiB) and CPU.",
    )
    password_hashing_wait_seconds: float = Field(
        2.0,
        gt=0,
        le=30,
        description="How long a sign-up or login waits for a free hashing slot before it "
        "answers 503 with Retry-After; longer queues more under a burst.",
    )
    password_min_strength: int = Field(
        3,
        ge=0,
        le=4,
        description="Lowest zxcvbn score (0-4) a new password needs; 3 refuses common, breached "
        "and guessable passwords (0: length only).",
    )
    refresh_token_reuse_grace_seconds: int = Field(
        10,
        ge=0,
        le=60,
        description="A refresh token presented again this soon after its rotation gets the same "
        "new refresh token (a client retrying after a timeout) instead of revoking its family; "
        "0: every reuse revokes.",
    )
    access_token_revocation_cache_seconds: float = Field(
        5.0,
        ge=0,
        le=60,
        description="How long an instance trusts its last look at a session's revocation marker; "
        "a logout reaches other instances' access tokens within this (0: every request asks "
        "the store).",
    )
    jwt_issuer: str = Field(
        "",
        description="iss claim of access tokens, checked on verify; empty: the service's slug.",
    )
    jwt_audience: str = Field(
        "",
        description="aud claim of access tokens, checked on verify; empty: the service's slug.",
    )
    jwt_leeway_seconds: int = Field(
        30,
        ge=0,
        le=300,
        description="Clock skew tolerated between instances when checking exp, iat and nbf.",
    )

    @property
    def token_issuer(self) -> str:
        """JWT_ISSUER, or the service's slug."""
        return self.jwt_issuer or about.SLUG

    @property
    def token_audience(self) -> str:
        """JWT_AUDIENCE, or the service's slug."""
        return self.jwt_audience or about.SLUG


class HttpSettings(BaseSettings):
    """The HTTP layer (app/http/) and static assets (app/api/static_files.py)."""

    compression_minimum_size_bytes: int = Field(
        500,
        ge=0,
        description="Compress responses at least this large (zstd, br or gzip); smaller ones "
        "cost more CPU and header bytes than compression saves.",
    )
    max_request_body_bytes: int = Field(
        1_048_576,
        ge=1,
        description="Request bodies over this answer 413 before being buffered; "
        "raise it for uploads, at the cost of memory per request.",
    )
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated browser origins (scheme://host[:port]) allowed to call the "
        "API cross-origin, or '*' alone for any (then without credentials); empty: no CORS.",
    )
    public_max_age_seconds: int = Field(
        30,
        ge=0,
        description="Cache-Control max-age of public GET responses (browsers); "
        "longer means fewer requests but staler pages in users' browsers.",
    )
    cdn_s_maxage_seconds: int = Field(
        60,
        ge=0,
        description="Cache-Control s-maxage of public GET responses (the CDN); "
        "the CDN serves them this long without asking the service.",
    )
    static_url: str = Field(
        "/static", description="Public URL prefix of static assets (the CDN in production)."
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        ["*"],
        description="Comma-separated host names (api.example.com, *.example.com) the service "
        "answers for; other Host headers get 400, so no link or redirect is built from a "
        "name an attacker chose. '*' (any) is refused in production.",
    )
    hsts_max_age_seconds: int = Field(
        31_536_000,
        ge=0,
        description="Strict-Transport-Security max-age sent in production and on https "
        "requests: browsers then refuse plain http to this host that long (0: no header).",
    )
    api_docs_enabled: bool | None = Field(
        None,
        description="Serve /docs, /redoc and /openapi.json; unset: on, except in production, "
        "where the API's map stays private unless this is true.",
    )

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _split_cors_origins(cls, value: object) -> object:
        return split_commas(value)

    @field_validator("cors_allow_origins")
    @classmethod
    def _check_cors_origins(cls, value: list[str]) -> list[str]:
        return check_cors_origins(value)

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_allowed_hosts(cls, value: object) -> object:
        return split_commas(value)

    @field_validator("allowed_hosts")
    @classmethod
    def _check_allowed_hosts(cls, value: list[str]) -> list[str]:
        return check_allowed_hosts(value)


class ObservabilitySettings(BaseSettings):
    """Logs, metrics, profiling and tracing (app/observability/)."""

    log_level: str = Field("INFO", description="Root log level (DEBUG, INFO, WARNING, ERROR).")
    log_json: bool = Field(
        True, description="One JSON object per line (for log shippers); false: coloured console."
    )
    profiling_enabled: bool = Field(
        False,
        description="Allow ?profile=1 with X-Admin-Token to return a pyinstrument profile "
        "of that request; costs nothing when off.",
    )
    admin_token: SecretStr | None = Field(
        None,
        description="Shared secret for admin-only features such as profiling; at least 32 "
        "characters when PROFILING_ENABLED is true.",
    )
    otel_enabled: bool = Field(
        False,
        description="Export OpenTelemetry traces (app/observability/tracing.py): request, "
        "dependency and SQL spans over OTLP/HTTP; costs some CPU and latency per request, "
        "nothing when off.",
    )
    otel_exporter_otlp_endpoint: str = Field(
        "",
        description="OTLP/HTTP collector base URL (/v1/traces is appended), e.g. "
        "http://localhost:4318; empty uses the OpenTelemetry default (localhost:4318).",
    )
    otel_service_name: str = Field("", description="service.name of spans; empty: the project.")
    otel_traces_sample_ratio: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Share of new traces recorded (an incoming traceparent decides for its "
        "own); lower it under heavy traffic to cut exporter CPU and collector cost.",
    )
    metrics_namespace: str = Field(
        "tenfold",
        min_length=1,
        description="CloudWatch namespace of the metrics the service logs in Embedded Metric "
        "Format (the infra sets <project>-<stack>).",
    )
    service_name: str = Field(
        "app",
        min_length=1,
        description="Value of the Service dimension of those metrics (the infra sets "
        "<project>-<stack>), so each stack scales on its own queue.",
    )

    @model_validator(mode="after")
    def _refuse_profiling_without_a_strong_admin_token(self) -> Self:
        if not self.profiling_enabled:
            return self
        token = self.admin_token.get_secret_value() if self.admin_token is not None else ""
        if len(token) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(
                f"PROFILING_ENABLED=true needs an ADMIN_TOKEN of at least {MIN_ADMIN_TOKEN_LENGTH} "
                f"characters (got {len(token)}): anyone holding it can profile requests; set one "
                "with `openssl rand -hex 32`, or unset PROFILING_ENABLED"
            )
        return self


class BenchSettings(BaseSettings):
    """The untuned twins `make bench` compares with (app/api/bench_twins.py)."""

    bench_twins: bool = Field(
        False,
        description="Mount the untuned twins under /bench (offset paging, inline job work, "
        "a 20-asset page) that `make bench` compares the tuned routes with; refused in "
        "production.",
    )


class Settings(
    ServerSettings,
    DatabaseSettings,
    StoreSettings,
    JobSettings,
    AuthSettings,
    AccountSecuritySettings,
    HttpSettings,
    ObservabilitySettings,
    BenchSettings,
):
    """Service settings; environment variables have the field names in upper case.

    One flat set of names (``settings.cache_ttl_seconds``, ``CACHE_TTL_SECONDS``), grouped
    into one section a package: a component may take just its section.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    environment: Environment = Field(
        Environment.DEVELOPMENT,
        description="production refuses development defaults such as the JWT key and SQLite.",
    )

    @model_validator(mode="after")
    def _refuse_development_defaults_in_production(self) -> Self:
        if self.environment is not Environment.PRODUCTION:
            return self
        if self.jwt_secret_key.get_secret_value() == DEVELOPMENT_JWT_SECRET_KEY:
            raise ValueError(
                "ENVIRONMENT=production refuses the development JWT_SECRET_KEY: "
                "set JWT_SECRET_KEY to a random secret (e.g. `openssl rand -hex 32`)"
            )
        if self.database_url.startswith("sqlite"):
            raise ValueError(
                "ENVIRONMENT=production refuses an SQLite DATABASE_URL: "
                "use postgresql+asyncpg://user@host:5432/db"
            )
        return self

    @model_validator(mode="after")
    def _refuse_bench_twins_in_production(self) -> Self:
        if self.bench_twins and self.environment is Environment.PRODUCTION:
            raise ValueError(
                "BENCH_TWINS=true is refused with ENVIRONMENT=production: the /bench twins "
                "are untuned on purpose (unbounded OFFSET scans, job work inside requests); "
                "unset BENCH_TWINS, or benchmark with ENVIRONMENT=development"
            )
        return self

    @model_validator(mode="after")
    def _refuse_public_exposure_in_production(self) -> Self:
        if self.metrics_port and self.metrics_port == self.port:
            raise ValueError(
                f"METRICS_PORT={self.metrics_port} is PORT: give metrics a port of its own, "
                "which the load balancer does not route (e.g. 9100), or 0 to serve them on PORT"
            )
        if self.environment is not Environment.PRODUCTION:
            return self
        if self.allowed_hosts == ["*"]:
            raise ValueError(
                "ENVIRONMENT=production refuses ALLOWED_HOSTS='*': list the host names clients "
                "use (the CDN's or the load balancer's), e.g. ALLOWED_HOSTS=api.example.com"
            )
        return self

    @property
    def metrics_on_public_port(self) -> bool:
        """/metrics as a route of the app: only without METRICS_PORT, and never in production."""
        return not self.metrics_port and self.environment is not Environment.PRODUCTION

    @property
    def docs_enabled(self) -> bool:
        """API_DOCS_ENABLED, or when unset: everywhere but production."""
        if self.api_docs_enabled is not None:
            return self.api_docs_enabled
        return self.environment is not Environment.PRODUCTION
