"""The untuned twins that ``bench/`` measures the tuned routes against (BENCH_TWINS=true only).

A benchmark that compares a tuned route with its naive version on another server, or
in another run, measures the machine as much as the practice. These twins live on the
same server as the routes they shadow, so ``make bench`` runs both sides in one run
with the same workers, pools and middleware:

- ``GET /bench/items?offset=N``: the catalog paged with OFFSET, which makes the
  database walk and discard N rows, against the keyset cursor of ``/api/v1/items``;
  it reads through no cache, so ``offset=0`` is also the uncached first page;
- ``POST /bench/items``: creates an item and does its job's work inside the request,
  against ``POST /api/v1/items``, which hands the job to the outbox;
- ``GET /bench/page``: a page that loads ``PAGE_ASSETS`` static files, to compare
  HTTP/2 with HTTP/1.1 the way a browser would load it.

The routes are left out of the OpenAPI schema, and settings refuse BENCH_TWINS in
production: they are a measuring instrument, not API.
"""

from __future__ import annotations

import uuid
from html import escape
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from app.api.deps import CurrentUserId, ReadSession, ResponseCache, WriteSession, resources_of
from app.api.items import CATALOG_CACHE, ITEM_CACHE
from app.api.strict_json import StrictJsonRoute
from app.db.models import Item, ItemStatus
from app.db.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from app.jobs.handlers import RECOMPUTE_ITEM_SEARCH_FIELDS, recompute_item_search_fields
from app.jobs.message import JobMessage
from app.jobs.registry import JobContext
from app.schemas.items import ItemCreate, ItemOut, ItemPage

router = APIRouter(
    prefix="/bench", tags=["bench"], include_in_schema=False, route_class=StrictJsonRoute
)

PAGE_ASSETS = 20
# The largest offset accepted: deep enough for the benchmark, bounded against abuse.
MAX_OFFSET = 10_000_000


@router.get("/items")
async def list_catalog_by_offset(
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> ItemPage:
    """Published items, newest first, skipping ``offset`` rows (no cursor, no cache)."""
    query = (
        select(Item)
        .where(Item.status == ItemStatus.PUBLISHED)
        .order_by(Item.created_at.desc(), Item.id.desc())
        .offset(offset)
        .limit(limit)
    )
    rows = (await session.scalars(query)).all()
    return ItemPage(items=[ItemOut.model_validate(row) for row in rows], next_cursor=None)


@router.post("/items", status_code=status.HTTP_201_CREATED)
async def create_item_inline(
    body: ItemCreate, user_id: CurrentUserId, session: WriteSession, cache: ResponseCache
) -> ItemOut:
    """Create an item and run its job's handler in the request's own transaction."""
    item = Item(owner_id=user_id, **body.model_dump())
    session.add(item)
    await session.flush()
    message = JobMessage(
        id=uuid.uuid4().hex, job=RECOMPUTE_ITEM_SEARCH_FIELDS, payload={"item_id": item.id}
    )
    await recompute_item_search_fields(JobContext(session, message))
    await session.commit()
    # The same invalidation as the tuned route, so only the job's path differs.
    await cache.invalidate(f"{ITEM_CACHE}:{item.id}")
    await cache.bump_generation(CATALOG_CACHE)
    return ItemOut.model_validate(item)


@router.get("/page", response_class=HTMLResponse)
async def page_with_assets(request: Request) -> Response:
    """HTML that references ``PAGE_ASSETS`` distinct static URLs, as a small site would."""
    assets = resources_of(request).static_assets
    names = sorted(assets.manifest)
    links = "".join(
        f'<link rel=prefetch href="{escape(assets.url(names[number % len(names)]))}?copy={number}">'
        for number in range(PAGE_ASSETS)
    )
    html = f"<!doctype html><html lang=en><head><meta charset=utf-8>{links}</head><body></body>"
    return HTMLResponse(html + "</html>")
