"""The public catalog (published items) and each owner's own items."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response, status
from sqlalchemy import Row

from app.api.deps import (
    PUBLIC_READ_OPENAPI,
    CurrentUserId,
    PageCursor,
    PageLimit,
    PageParams,
    PublicReads,
    ReadSession,
    ResponseCache,
    WriteSession,
    page_from,
)
from app.api.strict_json import StrictJsonRoute
from app.cache import Cache
from app.db.models import Item, ItemStatus
from app.db.pagination import DEFAULT_PAGE_SIZE, PageRequest, next_cursor
from app.db.types import MAX_BIGINT, MAX_INTEGER
from app.http.etag import etag_matches, weak_etag
from app.http.precompressed import PACKED_FORMAT, PrecompressedResponse
from app.repositories import items
from app.schemas.errors import error_responses
from app.schemas.fieldsets import (
    FIELDS_DESCRIPTION,
    FieldSet,
    fields_pattern,
    parse_fields,
    query_error,
)
from app.schemas.items import (
    ItemCreate,
    ItemFields,
    ItemFieldsPage,
    ItemOut,
    ItemPage,
    ItemUpdate,
)

router = APIRouter(tags=["items"], route_class=StrictJsonRoute)

NOT_FOUND = "Item not found"
MISSING = error_responses(404, _404=NOT_FOUND)
PRECONDITION = error_responses(412)
STALE = (
    "If-Match does not name the item's current ETag: someone changed it since you read it; "
    "GET it again, re-apply your change and send the new ETag"
)
UNAUTHENTICATED = error_responses(401)
# Cache keys: one per published item, and first catalog pages under one generation.
# Sparse (`fields=`) responses select fewer columns and are not cached.
ITEM_CACHE, CATALOG_CACHE = "items:item", "items:list"
# The cached bodies are packed (app/http/precompressed.py): their keys name the format, so
# an instance of an older release never reads a packed value, nor this one a plain body.
FieldsQuery = Annotated[
    str | None,
    Query(
        max_length=500,
        description=f"{FIELDS_DESCRIPTION} Allowed: {', '.join(ItemOut.model_fields)}.",
        examples=["name,price_cents"],
        json_schema_extra=fields_pattern(ItemOut),
    ),
]
Cents = Annotated[int | None, Query(ge=0, le=MAX_INTEGER)]
MaxCents = Annotated[
    int | None, Query(ge=0, le=MAX_INTEGER, description="Not below min_price_cents (else 422).")
]
# Ids beyond the id column's range can name no item: 422, never a database overflow.
ItemId = Annotated[int, Path(ge=1, le=MAX_BIGINT)]
IfMatch = Annotated[
    str | None,
    Header(
        max_length=1000,
        description="Optimistic concurrency: the ETag of GET /items/{item_id} (full item, "
        "no fields=) this change is based on, or *; a stale one answers 412.",
    ),
]


# With ?fields= the answer holds only the chosen fields: both shapes are documented.
@router.get("/items", response_model=ItemPage | ItemFieldsPage)
async def list_catalog(
    read: PublicReads,
    owner_id: Annotated[
        int | None, Query(ge=1, le=MAX_BIGINT, description="Only this owner's items.")
    ] = None,
    min_price_cents: Cents = None,
    max_price_cents: MaxCents = None,
    fields: FieldsQuery = None,
    limit: PageLimit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> ItemPage | Response:
    """Published items, newest first."""
    if (
        min_price_cents is not None
        and max_price_cents is not None
        and (min_price_cents > max_price_cents)
    ):
        raise query_error(
            "max_price_cents",
            max_price_cents,
            "min_price_cents must not be greater than max_price_cents",
        )
    page = page_from(limit, cursor)
    filters = items.CatalogFilter(owner_id, min_price_cents, max_price_cents)
    fieldset = parse_fields(ItemOut, fields)
    if fieldset is not None:  # sparse pages are cheap: not cached
        async with read.read_session() as session:
            rows = await items.list_published(session, page, filters, fieldset.names)
            return _page(rows, page, fieldset, read.public_headers)
    if page.after is not None:  # deeper pages are rarely shared: only first pages are cached
        async with read.read_session() as session:
            body = _rows_page_json(await items.list_published_rows(session, page, filters), page)
        return _json(body, read.public_headers)

    async def load() -> bytes:  # a cache hit opens no database session
        async with read.read_session() as session:
            rows = await items.list_published_rows(session, page, filters)
        return read.resources.body_encodings.pack(_rows_page_json(rows, page))

    cache = read.cache
    key = await cache.generation_key(
        CATALOG_CACHE, PACKED_FORMAT, *dataclasses.astuple(filters), page.limit
    )
    packed = await cache.get_or_load_json(key, load, cache="catalog", fence=CATALOG_CACHE)
    return PrecompressedResponse(packed, read.public_headers)


@router.get("/me/items", response_model=ItemPage | ItemFieldsPage, responses=UNAUTHENTICATED)
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
    rows = await items.list_owned(session, user_id, page, status_, columns)
    return _page(rows, page, fieldset, [])


@router.get(
    "/items/{item_id}",
    response_model=ItemOut | ItemFields,
    responses={**MISSING, **UNAUTHENTICATED},
    openapi_extra=PUBLIC_READ_OPENAPI,
)
async def get_item(
    item_id: ItemId, read: PublicReads, fields: FieldsQuery = None
) -> ItemOut | Response:
    """A published item, or one of the caller's own in any status.

    A published item is public: its answer does not depend on the caller, so the access
    token is verified (and a bad one answered 401) only when the item is not published.
    """
    fieldset = parse_fields(ItemOut, fields)
    if fieldset is not None:
        viewer_id = await read.viewer_id()
        async with read.read_session() as session:
            item = await items.get_visible_item(session, item_id, viewer_id, fieldset.names)
            if item is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
            body = fieldset.partial_model().model_validate(item).model_dump_json()
        return _json(body, read.public_headers)

    async def load_published() -> bytes | None:  # a cache hit opens no session
        async with read.read_session() as session:
            item = await items.get_visible_item(session, item_id, None)
            if item is None:
                return None
            return read.resources.body_encodings.pack(_item_json(item))

    # The cached body is served as stored: validated once, when it was loaded.
    published = await read.cache.get_or_load_json(
        item_cache_key(item_id), load_published, cache="item"
    )
    if published is not None:
        return PrecompressedResponse(published, read.public_headers)
    viewer_id = await read.viewer_id()
    if viewer_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    async with read.read_session() as session:
        item = await items.get_visible_item(session, item_id, viewer_id)
        if item is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
        # The same bytes as a cached body, so the ETag is the one If-Match is checked against.
        return _json(_item_json(item), read.public_headers)


@router.post(
    "/items", status_code=status.HTTP_201_CREATED, response_model=ItemOut, responses=UNAUTHENTICATED
)
async def create_item(
    body: ItemCreate,
    user_id: CurrentUserId,
    session: WriteSession,
    cache: ResponseCache,
    request: Request,
    response: Response,
) -> Response:
    item = await items.create_item(session, user_id, body.model_dump())
    await _invalidate(cache, item.id, removed_from_view=False)
    # A path, never a URL built from the request's Host header (which the client chose).
    path = request.app.url_path_for("get_item", item_id=item.id)
    response.headers["Location"] = request.scope.get("root_path", "") + path
    return _tagged(item, response, status.HTTP_201_CREATED)


@router.patch(
    "/items/{item_id}",
    response_model=ItemOut,
    responses={**MISSING, **UNAUTHENTICATED, **PRECONDITION},
)
async def update_item(
    item_id: ItemId,
    body: ItemUpdate,
    user_id: CurrentUserId,
    session: WriteSession,
    cache: ResponseCache,
    response: Response,
    if_match: IfMatch = None,
) -> Response:
    """Change the given fields; send If-Match with the ETag you read to not overwrite
    someone else's change (412 if the item changed since)."""
    item = await _owned(session, item_id, user_id, if_match)
    was_public = item.status == ItemStatus.PUBLISHED
    try:
        updated = await items.update_item(session, item, body.changes())
    except items.ItemGoneError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
    removed = was_public and updated.status != ItemStatus.PUBLISHED
    await _invalidate(cache, item_id, removed_from_view=removed)
    return _tagged(updated, response, status.HTTP_200_OK)


@router.delete(
    "/items/{item_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**MISSING, **UNAUTHENTICATED, **PRECONDITION},
)
async def delete_item(
    item_id: ItemId,
    user_id: CurrentUserId,
    session: WriteSession,
    cache: ResponseCache,
    if_match: IfMatch = None,
) -> None:
    """Delete the item; If-Match makes it conditional, as for PATCH."""
    item = await _owned(session, item_id, user_id, if_match)
    was_public = item.status == ItemStatus.PUBLISHED
    try:
        await items.delete_item(session, item)
    except items.ItemGoneError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
    await _invalidate(cache, item_id, removed_from_view=was_public)


async def _invalidate(cache: Cache, item_id: int, *, removed_from_view: bool) -> None:
    """After a committed write: drop the item and every cached first catalog page.

    The item's key is fenced on every write; the catalog's only when an item left public
    view, so creating items does not pause catalog caching (app/cache.py, write fences).
    The unpacked key too: instances of the previous release still read it while a rolling
    deploy replaces them (the catalog generation is shared by both).
    """
    await cache.invalidate(item_cache_key(item_id), f"{ITEM_CACHE}:{item_id}")
    await cache.bump_generation(CATALOG_CACHE, fence=removed_from_view)


def item_cache_key(item_id: int) -> str:
    return f"{ITEM_CACHE}:{PACKED_FORMAT}:{item_id}"


async def _owned(session: WriteSession, item_id: int, user_id: int, if_match: str | None) -> Item:
    """The caller's item, locked for this write; 412 if ``if_match`` is not its ETag."""
    # Someone else's item is "not found", not "forbidden": its existence stays private.
    item = await items.get_owned_item(session, item_id, user_id, for_update=True)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
    if if_match is not None and not etag_matches(if_match, weak_etag(_item_json(item))):
        raise HTTPException(status.HTTP_412_PRECONDITION_FAILED, STALE)
    return item


def _item_json(item: Item) -> bytes:
    """An item's full representation, as GET /items/{item_id} sends it (and tags it)."""
    return ItemOut.model_validate(item).model_dump_json().encode()


def _tagged(item: Item, response: Response, status_code: int) -> Response:
    """The item with its ETag, to send as If-Match on the next change."""
    body = _item_json(item)
    response.headers["ETag"] = weak_etag(body)
    # FastAPI merges the headers set on ``response`` (ETag, the read-your-writes token)
    # only into responses it builds itself, so they are carried over here.
    sent = _json(body, [h for h in response.raw_headers if h[0] != b"content-length"])
    sent.status_code = status_code
    return sent


def _page(
    rows: Sequence[Item],
    page: PageRequest,
    fieldset: FieldSet | None,
    headers: list[tuple[bytes, bytes]],
) -> ItemPage | Response:
    if fieldset is not None:
        # Only the chosen attributes are loaded: serialize just those.
        partial = fieldset.partial_model()
        body = ",".join(partial.model_validate(row).model_dump_json() for row in rows[: page.limit])
        cursor = orjson.dumps(next_cursor(rows, page)).decode()
        return _json(f'{{"items":[{body}],"next_cursor":{cursor}}}', headers)
    return _json(_full_page_json(rows, page), headers)


def _full_page_json(rows: Sequence[Item], page: PageRequest) -> bytes:
    return (
        ItemPage(
            items=[ItemOut.model_validate(row) for row in rows[: page.limit]],
            next_cursor=next_cursor(rows, page),
        )
        .model_dump_json()
        .encode()
    )


def _rows_page_json(rows: Sequence[Row[Any]], page: PageRequest) -> bytes:
    """An ItemPage body straight from ``items.PUBLIC_COLUMNS`` rows (as ItemPage dumps it:
    tests/test_items.py compares the two)."""
    return orjson.dumps(
        {
            "items": [row._asdict() for row in rows[: page.limit]],
            "next_cursor": next_cursor(rows, page),
        },
        option=orjson.OPT_UTC_Z,
    )


def _json(body: str | bytes, headers: list[tuple[bytes, bytes]]) -> Response:
    """An already serialized body, sent without FastAPI's second validation and encoding."""
    sent = Response(body, media_type="application/json")
    sent.raw_headers.extend(headers)
    return sent
