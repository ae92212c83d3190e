"""Concurrent writes of one item: a row deleted under a PATCH or DELETE is a 404, and
If-Match makes a change conditional on the version the client read (412 otherwise)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete

from app.db.models import Item
from app.repositories import items
from tests.conftest import Login, bearer

ITEMS = "/api/v1/items"


async def test_if_match_with_a_stale_etag_answers_412_and_changes_nothing(
    client: httpx.AsyncClient, login: Login
) -> None:
    ada = bearer(await login("ada@example.com"))
    created = await client.post(ITEMS, json={"name": "Desk", "status": "published"}, headers=ada)
    url = created.headers["Location"]
    read = await client.get(url)
    assert read.headers["ETag"] == created.headers["ETag"]  # the write tells the version too

    changed = await client.patch(
        url, json={"name": "Table"}, headers={**ada, "If-Match": read.headers["ETag"]}
    )
    assert changed.status_code == 200
    assert changed.headers["ETag"] != read.headers["ETag"]
    assert changed.headers["ETag"] == (await client.get(url)).headers["ETag"]

    # Someone still holding the first version is refused, on PATCH and DELETE.
    stale = {**ada, "If-Match": read.headers["ETag"]}
    refused = await client.patch(url, json={"name": "Chair"}, headers=stale)
    assert refused.status_code == 412
    assert "GET it again" in refused.json()["detail"]
    assert (await client.delete(url, headers=stale)).status_code == 412
    assert (await client.get(url)).json()["name"] == "Table"

    # The current ETag (weak or not, or in a list) and * are accepted; no If-Match: as before.
    current = changed.headers["ETag"]
    listed = {**ada, "If-Match": f'"other", {current.removeprefix("W/")}'}
    assert (await client.patch(url, json={"price_cents": 5}, headers=listed)).status_code == 200
    star = {**ada, "If-Match": "*"}
    assert (await client.patch(url, json={"price_cents": 6}, headers=star)).status_code == 200
    assert (await client.patch(url, json={"price_cents": 7}, headers=ada)).status_code == 200
    fresh = {**ada, "If-Match": (await client.get(url)).headers["ETag"]}
    assert (await client.delete(url, headers=fresh)).status_code == 204


@pytest.fixture
def vanishing_rows(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another request deletes the item right after this one loaded it for a write."""
    load = items.get_owned_item

    async def load_then_lose(session: Any, item_id: int, owner_id: int, **options: Any) -> Any:
        item = await load(session, item_id, owner_id, **options)
        async with app.state.resources.session_factory() as other:
            await other.execute(delete(Item).where(Item.id == item_id))
            await other.commit()
        return item

    monkeypatch.setattr(items, "get_owned_item", load_then_lose)


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
async def test_a_write_to_an_item_deleted_meanwhile_answers_404(
    client: httpx.AsyncClient, login: Login, vanishing_rows: None, method: str
) -> None:
    ada = bearer(await login("ada@example.com"))
    created = await client.post(ITEMS, json={"name": "Desk"}, headers=ada)
    body = {"name": "Table"} if method == "PATCH" else None
    response = await client.request(method, created.headers["Location"], headers=ada, json=body)
    assert response.status_code == 404, response.text
    assert response.json() == {"detail": "Item not found"}
