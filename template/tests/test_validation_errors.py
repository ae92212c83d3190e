"""422 answers on every route: where and what was wrong, never what was sent, bounded in size
and work; a body that is not JSON (NaN, 1e999999, a lone surrogate) is a 422, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.exceptions import RequestValidationError

from app.api.redacted_errors import MAX_ERRORS
from tests.conftest import Login, bearer

ITEMS = "/api/v1/items"
SENT = "sent-value-7c1f"  # a marker: it must never come back


def _only_where_and_what(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    detail: list[dict[str, Any]] = response.json()["detail"]
    assert detail
    for error in detail:
        assert set(error) == {"type", "loc", "msg"}, error
        assert error["msg"]
        assert isinstance(error["loc"], list)
    return detail


@pytest.mark.parametrize(
    ("method", "path", "options"),
    [
        pytest.param("GET", ITEMS, {"params": {"limit": SENT}}, id="query-number"),
        pytest.param("GET", f"{ITEMS}/{SENT}", {}, id="path-id"),
        pytest.param("GET", "/api/v1/me/items", {"params": {"status": SENT}}, id="query-enum"),
        pytest.param(
            "POST", ITEMS, {"json": {"name": "Lamp", "price_cents": SENT}}, id="body-field"
        ),
        pytest.param("POST", ITEMS, {"json": {"name": SENT * 100}}, id="body-too-long"),
        pytest.param("PATCH", f"{ITEMS}/1", {"json": {"status": SENT}}, id="body-patch"),
        pytest.param("POST", ITEMS, {"json": [SENT]}, id="body-not-an-object"),
        pytest.param(
            "POST", "/api/v1/auth/register", {"json": {"email": SENT, "password": SENT}}, id="auth"
        ),
    ],
)
async def test_every_422_names_locations_and_messages_never_the_input(
    client: httpx.AsyncClient, login: Login, method: str, path: str, options: dict[str, Any]
) -> None:
    headers = bearer(await login("ada@example.com"))
    response = await client.request(method, path, headers=headers, **options)
    _only_where_and_what(response)
    assert SENT not in response.text


@pytest.mark.parametrize(
    ("params", "body"),
    [
        pytest.param({"fields": f"name,{SENT}"}, None, id="query-fields"),
        pytest.param({}, {"name": "Lamp", SENT: 1}, id="body-unknown-field"),
    ],
)
async def test_an_unknown_name_is_named_as_where_the_error_is(
    client: httpx.AsyncClient, login: Login, params: dict[str, str], body: Any
) -> None:
    """A field the API does not have is the error's place: it is named (cut to a bounded
    length), as any location is; what was sent as a value never is."""
    headers = bearer(await login("ada@example.com"))
    if body is None:
        response = await client.get(ITEMS, params=params, headers=headers)
    else:
        response = await client.post(ITEMS, json=body, headers=headers)
    (error,) = _only_where_and_what(response)
    assert SENT in str(error["loc"]) + error["msg"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param('{"name": "Lamp", "price_cents": NaN}', id="nan"),
        pytest.param('{"name": "Lamp", "price_cents": Infinity}', id="infinity"),
        pytest.param('{"name": "Lamp", "price_cents": -Infinity}', id="minus-infinity"),
        pytest.param('{"name": "Lamp", "price_cents": 1e999999}', id="overflows-to-infinity"),
        pytest.param('{"name": "Lamp", "price_cents": "\\ud800"}', id="lone-high-surrogate"),
        pytest.param('{"name": "\\udc00 lamp"}', id="lone-low-surrogate-in-a-stored-field"),
        pytest.param('{"name": "Lamp",', id="truncated"),
        pytest.param("\xff\xfe", id="not-utf-8"),
    ],
)
@pytest.mark.parametrize("route", ["create", "update", "register", "login"])
async def test_a_body_that_is_not_json_is_a_422_on_every_route(
    client: httpx.AsyncClient, login: Login, body: str, route: str
) -> None:
    tokens = await login("ada@example.com")
    created = await client.post(ITEMS, json={"name": "Lamp"}, headers=bearer(tokens))
    method, path = {
        "create": ("POST", ITEMS),
        "update": ("PATCH", f"{ITEMS}/{created.json()['id']}"),
        "register": ("POST", "/api/v1/auth/register"),
        "login": ("POST", "/api/v1/auth/login"),
    }[route]
    response = await client.request(
        method,
        path,
        content=body.encode("utf-8", "surrogatepass") if "\xff" not in body else b"\xff\xfe",
        headers={**bearer(tokens), "Content-Type": "application/json"},
    )
    detail = _only_where_and_what(response)
    assert detail[0]["type"] == "json_invalid"
    assert detail[0]["loc"][0] == "body"
    assert detail[0]["msg"].startswith("JSON decode error")


async def test_a_huge_body_gets_a_short_422_without_validating_every_key(
    client: httpx.AsyncClient, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50,000 unknown keys (about 0.6 MB): the answer lists a few and counts the rest, and
    no error is built per key (that took seconds on the event loop)."""
    seen: list[int] = []
    build = RequestValidationError.__init__

    def counting(error: RequestValidationError, errors: Any, **options: Any) -> None:
        seen.append(len(errors))
        build(error, errors, **options)

    monkeypatch.setattr(RequestValidationError, "__init__", counting)
    body = "{" + ",".join(f'"k{number}": 1' for number in range(50_000)) + "}"
    response = await client.post(
        ITEMS,
        content=body,
        headers={**bearer(await login("ada@example.com")), "Content-Type": "application/json"},
    )
    detail = _only_where_and_what(response)
    assert len(response.content) < 5_000
    assert len(detail) <= MAX_ERRORS
    assert "49981 more unknown fields" in detail[-1]["msg"]
    assert "name" in detail[-1]["msg"]  # it says which fields the body takes
    assert seen == [MAX_ERRORS]  # built bounded, not 50,000 errors then cut


async def test_many_errors_of_a_valid_object_are_listed_up_to_the_bound(
    client: httpx.AsyncClient, login: Login
) -> None:
    tokens = await login("ada@example.com")
    wrong = {"name": "", "description": 5, "status": "gone", "price_cents": -1}
    detail = _only_where_and_what(await client.post(ITEMS, json=wrong, headers=bearer(tokens)))
    assert sorted(error["loc"][-1] for error in detail) == sorted(wrong)
