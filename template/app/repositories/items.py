"""Queries on items. Each list query is backed by a composite index in the models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Item, ItemStatus
from app.jobs.handlers import enqueue_item_changed
from app.pagination import PageRequest, paginate


@dataclass(frozen=True, slots=True)
class CatalogFilter:
    owner_id: int | None = None
    min_price_cents: int | None = None
    max_price_cents: int | None = None


async def list_published(
    session: AsyncSession, page: PageRequest, filters: CatalogFilter
) -> Sequence[Item]:
    query = select(Item).where(Item.status == ItemStatus.PUBLISHED)
    if filters.owner_id is not None:
        query = query.where(Item.owner_id == filters.owner_id)
    if filters.min_price_cents is not None:
        query = query.where(Item.price_cents >= filters.min_price_cents)
    if filters.max_price_cents is not None:
        query = query.where(Item.price_cents <= filters.max_price_cents)
    return await _page(session, query, page)


async def list_owned(
    session: AsyncSession, owner_id: int, page: PageRequest, status: ItemStatus | None
) -> Sequence[Item]:
    query = select(Item).where(Item.owner_id == owner_id)
    if status is not None:
        query = query.where(Item.status == status)
    return await _page(session, query, page)


async def get_visible_item(
    session: AsyncSession, item_id: int, viewer_id: int | None
) -> Item | None:
    """The item if it is published or belongs to ``viewer_id``."""
    visible = Item.status == ItemStatus.PUBLISHED
    if viewer_id is not None:
        visible = or_(visible, Item.owner_id == viewer_id)
    item: Item | None = await session.scalar(select(Item).where(Item.id == item_id, visible))
    return item


async def get_owned_item(session: AsyncSession, item_id: int, owner_id: int) -> Item | None:
    query = select(Item).where(Item.id == item_id, Item.owner_id == owner_id)
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
    enqueue_item_changed(session, item)  # jobs: same transaction as the write
    await session.commit()
    return item


async def delete_item(session: AsyncSession, item: Item) -> None:
    await session.delete(item)
    await session.commit()


async def _page(
    session: AsyncSession, query: Select[tuple[Item]], page: PageRequest
) -> Sequence[Item]:
    result = await session.scalars(paginate(query, page, Item.created_at, Item.id))
    return result.all()
