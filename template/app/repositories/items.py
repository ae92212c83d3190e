"""Queries on items. Each list query is backed by a composite index in the models."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Row, Select, delete, or_, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import load_only
from sqlalchemy.orm.exc import StaleDataError

from app.db.models import Item, ItemStatus
from app.db.pagination import PageRequest, paginate
from app.jobs.handlers import enqueue_item_changed

_Q = TypeVar("_Q", bound=Select[Any])


class ItemGoneError(Exception):
    """The item was deleted by a concurrent request between loading it and writing it."""


@dataclass(frozen=True, slots=True)
class CatalogFilter:
    owner_id: int | None = None
    min_price_cents: int | None = None
    max_price_cents: int | None = None


# What a caller may see of an item, in ItemOut's order: rows of these serialize straight
# to the response (app/api/items.py), with no ORM objects and no Pydantic round trip.
PUBLIC_COLUMNS = (
    Item.id,
    Item.owner_id,
    Item.name,
    Item.description,
    Item.status,
    Item.price_cents,
    Item.created_at,
    Item.updated_at,
)


async def list_published(
    session: AsyncSession,
    page: PageRequest,
    filters: CatalogFilter,
    columns: Collection[str] | None = None,
) -> Sequence[Item]:
    query = _published(_select_items(columns, keyset=True), filters)
    return await _page(session, query, page)


async def list_published_rows(
    session: AsyncSession, page: PageRequest, filters: CatalogFilter
) -> Sequence[Row[Any]]:
    """``list_published`` as plain rows of ``PUBLIC_COLUMNS`` (for serializing as is)."""
    query = _published(select(*PUBLIC_COLUMNS), filters)
    result = await session.execute(paginate(query, page, Item.created_at, Item.id))
    return result.all()


def _published(query: _Q, filters: CatalogFilter) -> _Q:
    query = query.where(Item.status == ItemStatus.PUBLISHED)
    if filters.owner_id is not None:
        query = query.where(Item.owner_id == filters.owner_id)
    if filters.min_price_cents is not None:
        query = query.where(Item.price_cents >= filters.min_price_cents)
    if filters.max_price_cents is not None:
        query = query.where(Item.price_cents <= filters.max_price_cents)
    return query


async def list_owned(
    session: AsyncSession,
    owner_id: int,
    page: PageRequest,
    status: ItemStatus | None,
    columns: Collection[str] | None = None,
) -> Sequence[Item]:
    query = _select_items(columns, keyset=True).where(Item.owner_id == owner_id)
    if status is not None:
        query = query.where(Item.status == status)
    return await _page(session, query, page)


async def get_visible_item(
    session: AsyncSession,
    item_id: int,
    viewer_id: int | None,
    columns: Collection[str] | None = None,
) -> Item | None:
    """The item if it is published or belongs to ``viewer_id``."""
    visible = Item.status == ItemStatus.PUBLISHED
    if viewer_id is not None:
        visible = or_(visible, Item.owner_id == viewer_id)
    query = _select_items(columns, keyset=False).where(Item.id == item_id, visible)
    item: Item | None = await session.scalar(query)
    return item


async def get_owned_item(
    session: AsyncSession, item_id: int, owner_id: int, *, for_update: bool = False
) -> Item | None:
    """``for_update`` locks the row until commit (PostgreSQL), so concurrent writes of one
    item queue up: each sees the previous one's result, or that it was deleted."""
    query = select(Item).where(Item.id == item_id, Item.owner_id == owner_id)
    if for_update:
        query = query.with_for_update()
    item: Item | None = await session.scalar(query)
    return item


async def create_item(session: AsyncSession, owner_id: int, fields: dict[str, Any]) -> Item:
    item = Item(owner_id=owner_id, **fields)
    session.add(item)
    await session.flush()  # the job needs the item's id
    enqueue_item_changed(session, item)  # jobs: same transaction as the write
    await session.commit()
    return item


async def update_item(session: AsyncSession, item: Item, changes: dict[str, Any]) -> Item:
    for field, value in changes.items():
        setattr(item, field, value)
    item_id = item.id
    enqueue_item_changed(session, item)  # jobs: same transaction as the write
    try:
        await session.commit()  # UPDATE ... WHERE id: matches 0 rows if it vanished
    except StaleDataError as error:
        await session.rollback()
        raise ItemGoneError(item_id) from error
    return item


async def delete_item(session: AsyncSession, item: Item) -> None:
    result = await session.execute(delete(Item).where(Item.id == item.id))
    if cast("CursorResult[Any]", result).rowcount != 1:
        raise ItemGoneError(item.id)
    await session.commit()


def _select_items(columns: Collection[str] | None, *, keyset: bool) -> Select[tuple[Item]]:
    """SELECT items, loading only ``columns`` (plus the keyset columns of a list) if given.

    The rows are ORM objects whose other attributes are unloaded: read only ``columns``.
    """
    if columns is None:
        return select(Item)
    names = set(columns) | ({"id", "created_at"} if keyset else {"id"})
    attributes = [getattr(Item, name) for name in sorted(names)]
    return select(Item).options(load_only(*attributes, raiseload=True))


async def _page(
    session: AsyncSession, query: Select[tuple[Item]], page: PageRequest
) -> Sequence[Item]:
    result = await session.scalars(paginate(query, page, Item.created_at, Item.id))
    return result.all()
