"""The public catalog (published items) and each owner's own items."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import orjson
from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from app.auth.dependencies import CurrentUserId, OptionalUserId
from app.db.models import Item, ItemStatus
from app.db.session import ReadSession, Session
from app.fieldsets import FieldSet, FieldsQuery, parse_fields
from app.pagination import PageParams, PageRequest, next_cursor
from app.repositories import items
from app.schemas.items import ItemCreate, ItemOut, ItemPage, ItemUpdate

router = APIRouter(tags=["items"])

NOT_FOUND = "Item not found"
Cents = Annotated[int | None, Query(ge=0)]


@router.get("/items", response_model=ItemPage)
async def list_catalog(  # noqa: PLR0917 - FastAPI passes query parameters by name
    session: ReadSession,
    page: PageParams,
    owner_id: Annotated[int | None, Query(ge=1, description="Only this owner's items.")] = None,
    min_price_cents: Cents = None,
    max_price_cents: Cents = None,
    fields: FieldsQuery = None,
) -> ItemPage | Response:
    """Published items, newest first."""
    if (
        min_price_cents is not None
        and max_price_cents is not None
        and (min_price_cents > max_price_cents)
    ):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "min_price_cents must not be greater than max_price_cents",
        )
    filters = items.CatalogFilter(owner_id, min_price_cents, max_price_cents)
    fieldset = parse_fields(ItemOut, fields)
    columns = fieldset.names if fieldset else None
    rows = await items.list_published(session, page, filters, columns)
    return _page(rows, page, fieldset)


@router.get("/me/items", response_model=ItemPage)
async def list_mine(
    user_id: CurrentUserId,
    session: ReadSession,
    page: PageParams,
    status_: Annotated[ItemStatus | None, Query(alias="status")] = None,
    fields: FieldsQuery = None,
) -> ItemPage | Response:
    """The caller's items in every status, newest first."""
    fieldset = parse_fields(ItemOut, fields)
    columns = fieldset.names if fieldset else None
    return _page(await items.list_owned(session, user_id, page, status_, columns), page, fieldset)


@router.get("/items/{item_id}", response_model=ItemOut, responses={404: {"description": NOT_FOUND}})
async def get_item(
    item_id: int, viewer_id: OptionalUserId, session: ReadSession, fields: FieldsQuery = None
) -> ItemOut | Response:
    """A published item, or one of the caller's own in any status."""
    fieldset = parse_fields(ItemOut, fields)
    columns = fieldset.names if fieldset else None
    item = await items.get_visible_item(session, item_id, viewer_id, columns)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    if fieldset is not None:
        return _json(fieldset.partial_model().model_validate(item).model_dump_json())
    return ItemOut.model_validate(item)


@router.post("/items", status_code=status.HTTP_201_CREATED)
async def create_item(
    body: ItemCreate, user_id: CurrentUserId, session: Session, request: Request, response: Response
) -> ItemOut:
    item = await items.create_item(session, user_id, body.model_dump())
    response.headers["Location"] = str(request.url_for("get_item", item_id=item.id))
    return ItemOut.model_validate(item)


@router.patch("/items/{item_id}", responses={404: {"description": NOT_FOUND}})
async def update_item(
    item_id: int, body: ItemUpdate, user_id: CurrentUserId, session: Session
) -> ItemOut:
    item = await _owned(session, item_id, user_id)
    return ItemOut.model_validate(await items.update_item(session, item, body.changes()))


@router.delete(
    "/items/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": NOT_FOUND}},
)
async def delete_item(item_id: int, user_id: CurrentUserId, session: Session) -> None:
    await items.delete_item(session, await _owned(session, item_id, user_id))


async def _owned(session: Session, item_id: int, user_id: int) -> Item:
    # Someone else's item is "not found", not "forbidden": its existence stays private.
    item = await items.get_owned_item(session, item_id, user_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    return item


def _page(
    rows: Sequence[Item], page: PageRequest, fieldset: FieldSet | None
) -> ItemPage | Response:
    if fieldset is not None:
        # Only the chosen attributes are loaded: serialize just those.
        partial = fieldset.partial_model()
        body = ",".join(partial.model_validate(row).model_dump_json() for row in rows[: page.limit])
        cursor = orjson.dumps(next_cursor(rows, page)).decode()
        return _json(f'{{"items":[{body}],"next_cursor":{cursor}}}')
    return ItemPage(
        items=[ItemOut.model_validate(row) for row in rows[: page.limit]],
        next_cursor=next_cursor(rows, page),
    )


def _json(body: str) -> Response:
    return Response(body, media_type="application/json")
