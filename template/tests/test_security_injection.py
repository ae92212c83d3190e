"""SQL-injection and hostile-input probes in every parameter of the public API (SQLite).

Each classic payload goes into every query parameter, path parameter and string body
field. Every answer must be a 4xx or a normal answer, never a 5xx, and afterwards the
users and items tables still hold exactly what they held before. The same probes run
on PostgreSQL in tests/integration/test_security_injection.py, where NUL bytes and
out-of-range integers are the classic causes of 500s.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import quote

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.models import Item, User
from tests.conftest import Login, bearer


def _cursor(*values: object) -> str:
    """A cursor as the API encodes one, holding ``values`` instead of a real position."""
    raw = repr(list(values)).replace("'", '"').encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


PAYLOADS = (
    "' OR 1=1--",
    "1' OR '1'='1",
    "1; DROP TABLE items",
    "1); DROP TABLE users;--",
    "' UNION SELECT id, email, password_hash FROM users--",
    "%27",
    "%00",
    "\u2019 OR 1=1--",  # right single quotation mark
    "\uff07 OR 1=1--",  # fullwidth apostrophe
    "\u02bc OR 1=1--",  # modifier letter apostrophe
    "\x00",
    "1\x00",
    "a\x00' OR 1=1--",
    "x" * 5000,
    "-1",
    "0",
    "99999999999",  # over int32
    "9223372036854775808",  # over int64
    "-9223372036854775809",
    "1e309",
    "NaN",
    "1.5",
    "",
    "published' OR status='draft",
    _cursor("2026-01-01T00:00:00+00:00", 2**63),  # id over int64
    _cursor("2026-01-01T00:00:00+00:00", -(2**63) - 1),
    _cursor("0001-01-01T00:00:00+00:00", 1),
    _cursor("2026-01-01T00:00:00+00:00' OR 1=1--", 1),
    _cursor("2026-01-01T00:00:00+14:00", 1),
)


@dataclass(frozen=True, slots=True)
class Probe:
    """One place a payload goes: ``{}`` in ``path`` or the named query parameter/body field."""

    method: str
    path: str
    query: str | None = None
    body_field: str | None = None
    authenticated: bool = False

    def describe(self) -> str:
        where = self.query or self.body_field or "path"
        return f"{self.method} {self.path} [{where}]"


PROBES = (
    *(
        Probe("GET", "/api/v1/items", query=name)
        for name in (
            "limit",
            "cursor",
            "owner_id",
            "min_price_cents",
            "max_price_cents",
            "fields",
        )
    ),
    *(
        Probe("GET", "/api/v1/me/items", query=name, authenticated=True)
        for name in (
            "limit",
            "cursor",
            "status",
            "fields",
        )
    ),
    Probe("GET", "/api/v1/items/{}"),
    Probe("GET", "/api/v1/items/{}", authenticated=True),
    Probe("GET", "/api/v1/items/1", query="fields"),
    Probe("PATCH", "/api/v1/items/{}", authenticated=True),
    Probe("DELETE", "/api/v1/items/{}", authenticated=True),
    Probe("POST", "/api/v1/items", body_field="name", authenticated=True),
    Probe("POST", "/api/v1/items", body_field="description", authenticated=True),
    Probe("POST", "/api/v1/items", body_field="status", authenticated=True),
    Probe("PATCH", "/api/v1/items/1", body_field="name", authenticated=True),
    Probe("POST", "/api/v1/auth/register", body_field="email"),
    Probe("POST", "/api/v1/auth/login", body_field="email"),
    Probe("POST", "/api/v1/auth/login", body_field="password"),
    Probe("POST", "/api/v1/auth/refresh", body_field="refresh_token"),
    Probe("POST", "/api/v1/auth/logout", body_field="refresh_token"),
)

BASE_BODIES: dict[str, dict[str, object]] = {
    "/api/v1/items": {"name": "Probe", "status": "published"},
    "/api/v1/items/1": {"name": "Probe"},
    "/api/v1/auth/register": {"email": "probe@example.com", "password": "probe password 1"},
    "/api/v1/auth/login": {"email": "ada@example.com", "password": "probe password 1"},
    "/api/v1/auth/refresh": {"refresh_token": "x"},
    "/api/v1/auth/logout": {"refresh_token": "x"},
}


async def table_counts(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as connection:
        users = await connection.scalar(select(func.count()).select_from(User))
        items = await connection.scalar(select(func.count()).select_from(Item))
    return int(users or 0), int(items or 0)


async def send(
    client: httpx.AsyncClient, probe: Probe, payload: str, headers: dict[str, str]
) -> httpx.Response:
    path = probe.path.replace("{}", quote(payload, safe="")) if "{}" in probe.path else probe.path
    params = {probe.query: payload} if probe.query else None
    body = None
    if probe.body_field is not None:
        body = {**BASE_BODIES[probe.path], probe.body_field: payload}
    return await client.request(
        probe.method,
        path,
        params=params,
        json=body,
        headers=headers if probe.authenticated else None,
    )


async def run_probes(app: FastAPI, client: httpx.AsyncClient, login: Login) -> int:
    """Send every payload to every probe; returns how many requests were sent."""
    tokens = await login("ada@example.com")
    owner = bearer(tokens)
    for status in ("published", "draft"):
        created = await client.post(
            "/api/v1/items", json={"name": f"A {status} item", "status": status}, headers=owner
        )
        assert created.status_code == 201, created.text
    engine: AsyncEngine = app.state.resources.engine
    # Creations below may add rows; what matters is that nothing existing is lost or changed.
    before = await table_counts(engine)
    failures: list[str] = []
    sent = 0
    for probe in PROBES:
        for payload in PAYLOADS:
            try:
                response = await send(client, probe, payload, owner)
            except Exception as error:  # noqa: BLE001 - the ASGI transport re-raises app errors
                failures.append(f"{probe.describe()} {payload[:40]!r}: raised {error!r}")
                continue
            finally:
                sent += 1
            if response.status_code >= 500:
                failures.append(
                    f"{probe.describe()} {payload[:40]!r}: {response.status_code} {response.text}"
                )
            elif response.status_code == 200 and probe.path == "/api/v1/items":
                # A filter that matched is harmless only if it returned published items.
                assert all(item["status"] == "published" for item in response.json()["items"])
    assert not failures, "\n".join(failures)
    users_after, items_after = await table_counts(engine)
    assert users_after >= before[0]
    assert items_after >= before[1] - 1  # the DELETE probe of item 1 may legitimately succeed
    mine = await client.get("/api/v1/me/items", headers=owner)
    assert mine.status_code == 200
    return sent


async def test_injection_probes_get_4xx_or_harmless_answers(
    app: FastAPI, client: httpx.AsyncClient, login: Login
) -> None:
    sent = await run_probes(app, client, login)
    assert sent == len(PROBES) * len(PAYLOADS)
