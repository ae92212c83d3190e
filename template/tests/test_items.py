from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from app.schemas.items import ItemPage
from tests.conftest import Login, bearer

ITEMS = "/api/v1/items"
MY_ITEMS = "/api/v1/me/items"


async def _create(
    client: httpx.AsyncClient, tokens: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"name": "Lamp", "status": "published", "price_cents": 1000} | fields
    response = await client.post(ITEMS, json=body, headers=bearer(tokens))
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()
    return item


async def _walk(
    client: httpx.AsyncClient, url: str, limit: int, **kwargs: Any
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit} | kwargs.pop("params", {})
    while True:
        response = await client.get(url, params=params, **kwargs)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        seen.extend(page["items"])
        if page["next_cursor"] is None:
            return seen
        params["cursor"] = page["next_cursor"]


async def test_owner_crud_round_trip(client: httpx.AsyncClient, login: Login) -> None:
    ada = await login("ada@example.com")
    created = await _create(client, ada, name="Desk", description="Oak", price_cents=25000)
    assert created["status"] == "published"
    assert created["created_at"].endswith(("Z", "+00:00"))

    fetched = await client.get(f"{ITEMS}/{created['id']}")
    assert fetched.json() == created

    patched = await client.patch(
        f"{ITEMS}/{created['id']}", json={"price_cents": 20000}, headers=bearer(ada)
    )
    assert patched.status_code == 200
    assert patched.json()["price_cents"] == 20000
    assert patched.json()["name"] == "Desk"
    assert patched.json()["updated_at"] >= created["updated_at"]

    deleted = await client.delete(f"{ITEMS}/{created['id']}", headers=bearer(ada))
    assert deleted.status_code == 204
    assert (await client.get(f"{ITEMS}/{created['id']}")).status_code == 404


async def test_create_answers_with_its_location(client: httpx.AsyncClient, login: Login) -> None:
    ada = await login("ada@example.com")
    response = await client.post(ITEMS, json={"name": "Lamp"}, headers=bearer(ada))
    assert response.headers["Location"].endswith(f"{ITEMS}/{response.json()['id']}")
    assert response.json()["status"] == "draft"


async def test_other_users_cannot_see_or_change_an_unpublished_item(
    client: httpx.AsyncClient, login: Login
) -> None:
    ada, bob = await login("ada@example.com"), await login("bob@example.com")
    draft = await _create(client, ada, status="draft")
    url = f"{ITEMS}/{draft['id']}"

    assert (await client.get(url, headers=bearer(ada))).status_code == 200
    assert (await client.get(url, headers=bearer(bob))).status_code == 404
    assert (await client.get(url)).status_code == 404
    assert (await client.patch(url, json={"name": "x"}, headers=bearer(bob))).status_code == 404
    assert (await client.delete(url, headers=bearer(bob))).status_code == 404
    assert (await client.get(url, headers=bearer(ada))).json()["name"] == "Lamp"


async def test_a_published_item_is_public_but_still_only_its_owner_changes_it(
    client: httpx.AsyncClient, login: Login
) -> None:
    ada, bob = await login("ada@example.com"), await login("bob@example.com")
    item = await _create(client, ada)
    url = f"{ITEMS}/{item['id']}"
    assert (await client.get(url)).status_code == 200
    assert (await client.patch(url, json={"name": "x"}, headers=bearer(bob))).status_code == 404
    assert (await client.delete(url, headers=bearer(bob))).status_code == 404


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", ITEMS),
        ("PATCH", f"{ITEMS}/1"),
        ("DELETE", f"{ITEMS}/1"),
        ("GET", MY_ITEMS),
    ],
)
async def test_writes_and_own_lists_need_a_token(
    client: httpx.AsyncClient, method: str, url: str
) -> None:
    response = await client.request(method, url, json={"name": "x"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param({"name": ""}, "at least 1 character", id="empty-name"),
        pytest.param({"name": "x", "price_cents": -1}, "greater than or equal to 0", id="price"),
        pytest.param({"name": "x", "price_cents": False}, "not true/false", id="boolean-price"),
        pytest.param({"name": "x", "price_cents": "12"}, "or text", id="string-price"),
        pytest.param({"name": "x", "price_cents": 2.5}, "valid integer", id="fraction-price"),
        pytest.param({"name": "x", "status": "sold"}, "'draft', 'published' or", id="status"),
        pytest.param({"name": "x", "colour": "red"}, "Extra inputs", id="unknown-field"),
    ],
)
async def test_invalid_items_get_422_with_a_clear_message(
    client: httpx.AsyncClient, login: Login, body: dict[str, Any], message: str
) -> None:
    ada = await login("ada@example.com")
    response = await client.post(ITEMS, json=body, headers=bearer(ada))
    assert response.status_code == 422
    assert message in response.text


async def test_patch_rejects_explicit_nulls(client: httpx.AsyncClient, login: Login) -> None:
    ada = await login("ada@example.com")
    item = await _create(client, ada)
    response = await client.patch(f"{ITEMS}/{item['id']}", json={"name": None}, headers=bearer(ada))
    assert response.status_code == 422
    assert "name cannot be null" in response.text


async def test_catalog_walks_every_published_item_once_newest_first(
    client: httpx.AsyncClient, login: Login
) -> None:
    ada = await login("ada@example.com")
    published = [await _create(client, ada, name=f"item {n}") for n in range(23)]
    await _create(client, ada, status="draft")
    await _create(client, ada, status="archived")

    seen = await _walk(client, ITEMS, limit=5)

    assert [item["id"] for item in seen] == [item["id"] for item in reversed(published)]
    assert {item["status"] for item in seen} == {"published"}


async def test_catalog_filters_by_owner_and_price(client: httpx.AsyncClient, login: Login) -> None:
    ada, bob = await login("ada@example.com"), await login("bob@example.com")
    for price in (100, 500, 900):
        await _create(client, ada, price_cents=price)
    await _create(client, bob, price_cents=500)

    ada_id = (await client.get("/api/v1/users/me", headers=bearer(ada))).json()["id"]
    params = {"owner_id": ada_id, "min_price_cents": 200, "max_price_cents": 900}
    seen = await _walk(client, ITEMS, limit=1, params=params)
    assert sorted(item["price_cents"] for item in seen) == [500, 900]
    assert {item["owner_id"] for item in seen} == {ada_id}

    inverted = await client.get(ITEMS, params={"min_price_cents": 9, "max_price_cents": 1})
    assert inverted.status_code == 422
    assert "min_price_cents must not be greater" in inverted.text


async def test_my_items_lists_every_status_and_filters_by_status(
    client: httpx.AsyncClient, login: Login
) -> None:
    ada, bob = await login("ada@example.com"), await login("bob@example.com")
    for status in ("draft", "published", "archived", "draft"):
        await _create(client, ada, status=status)
    await _create(client, bob)

    mine = await _walk(client, MY_ITEMS, limit=3, headers=bearer(ada))
    assert len(mine) == 4
    drafts = await _walk(client, MY_ITEMS, limit=3, headers=bearer(ada), params={"status": "draft"})
    assert [item["status"] for item in drafts] == ["draft", "draft"]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        pytest.param({"limit": 0}, 422, id="limit-zero"),
        pytest.param({"limit": 101}, 422, id="limit-too-big"),
        pytest.param({"limit": 100}, 200, id="limit-max"),
        pytest.param({"cursor": "not a cursor!"}, 400, id="garbage-cursor"),
        pytest.param({"cursor": "WzEsMl0"}, 400, id="wrong-shape-cursor"),
    ],
)
async def test_page_bounds_and_cursor_validation(
    client: httpx.AsyncClient, params: dict[str, Any], status: int
) -> None:
    response = await client.get(ITEMS, params=params)
    assert response.status_code == status
    if status == 400:
        assert "Invalid cursor" in response.json()["detail"]


def _crafted_cursor(created_at: str, row_id: object) -> str:
    """A cursor in the API's own encoding, holding values it would never issue."""
    raw = f'["{created_at}",{row_id}]'.encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("path", [ITEMS, MY_ITEMS])
@pytest.mark.parametrize(
    "cursor",
    [
        # UTC cannot hold these: year 0 and year 10000 once the offset is applied.
        pytest.param(_crafted_cursor("0001-01-01T00:00:00+14:00", 5), id="before-year-1-in-utc"),
        pytest.param(_crafted_cursor("9999-12-31T23:59:59-14:00", 5), id="after-9999-in-utc"),
        pytest.param(_crafted_cursor("2024-01-01T00:00:00", 5), id="naive-time"),
        pytest.param(_crafted_cursor("2024-01-01T00:00:00+00:00", 0), id="id-zero"),
        pytest.param(_crafted_cursor("2024-01-01T00:00:00+00:00", 2**63), id="id-past-bigint"),
    ],
)
async def test_crafted_cursors_get_400_on_every_paged_route(
    client: httpx.AsyncClient, login: Login, path: str, cursor: str
) -> None:
    headers = bearer(await login("ada@example.com")) if path == MY_ITEMS else {}
    response = await client.get(path, params={"cursor": cursor}, headers=headers)
    assert response.status_code == 400, response.text
    assert "Invalid cursor" in response.json()["detail"]


async def test_default_page_size_is_20(client: httpx.AsyncClient, login: Login) -> None:
    ada = await login("ada@example.com")
    for n in range(21):
        await _create(client, ada, name=f"item {n}")
    page = (await client.get(ITEMS)).json()
    assert len(page["items"]) == 20
    assert page["next_cursor"]


async def test_catalog_pages_are_byte_for_byte_what_their_response_model_dumps(
    client: httpx.AsyncClient, login: Login
) -> None:
    """Catalog pages are serialized from rows, not through ItemPage: the document's model
    must still describe them exactly (field order, UTC "Z" timestamps, enum values)."""
    ada = await login("ada@example.com")
    for number in range(3):
        await _create(client, ada, name=f"Item {number}", description='ß ✓ "quoted"')
    first = await client.get(ITEMS, params={"limit": 2})
    deeper = await client.get(ITEMS, params={"limit": 2, "cursor": first.json()["next_cursor"]})
    for page in (first, deeper):
        assert page.status_code == 200, page.text
        model = ItemPage.model_validate_json(page.content)
        assert page.content == model.model_dump_json().encode()
    assert [len(page.json()["items"]) for page in (first, deeper)] == [2, 1]


async def test_a_published_item_is_answered_whatever_the_token_but_a_private_one_checks_it(
    client: httpx.AsyncClient, login: Login
) -> None:
    """The item read verifies the access token only when the answer depends on the caller."""
    ada = await login("ada@example.com")
    published = await _create(client, ada)
    draft = await _create(client, ada, status="draft")
    garbage = {"Authorization": "Bearer not-a-jwt"}
    public = await client.get(f"{ITEMS}/{published['id']}", headers=garbage)
    assert public.status_code == 200
    assert public.headers["cache-control"] == "private, no-store"  # it carried credentials
    private = await client.get(f"{ITEMS}/{draft['id']}", headers=garbage)
    assert private.status_code == 401
    assert private.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert (await client.get(f"{ITEMS}/{draft['id']}", headers=bearer(ada))).status_code == 200
