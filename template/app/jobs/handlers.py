"""The service's jobs. Register new ones with ``@jobs.job("name")``."""

from __future__ import annotations

import unicodedata

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Item
from app.jobs.outbox import enqueue
from app.jobs.registry import JobContext, JobRegistry

jobs = JobRegistry()

RECOMPUTE_ITEM_SEARCH_FIELDS = "recompute_item_search_fields"


def normalize_search_text(*parts: str) -> str:
    """Case-folded, accent-free, whitespace-collapsed text: "Crème  Brûlée" -> "creme brulee"."""
    decomposed = unicodedata.normalize("NFKD", " ".join(parts))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.casefold().split())


def enqueue_item_changed(session: AsyncSession, item: Item) -> str:
    """Call inside the write's transaction (after a flush, so the item has an id)."""
    return enqueue(session, RECOMPUTE_ITEM_SEARCH_FIELDS, {"item_id": item.id})


@jobs.job(RECOMPUTE_ITEM_SEARCH_FIELDS)
async def recompute_item_search_fields(context: JobContext) -> None:
    """Derive ``items.search_text`` from the item's current name and description.

    It reads the row as it is now, not as it was when enqueued, so jobs of several quick
    edits converge on the latest text whatever order they run in.
    """
    item_id = int(context.payload["item_id"])
    row = (
        await context.session.execute(select(Item.name, Item.description).where(Item.id == item_id))
    ).one_or_none()
    if row is None:
        return  # deleted since: nothing to derive
    await context.session.execute(
        update(Item)
        .where(Item.id == item_id)
        # Keep updated_at: a derived field is not an edit (ETags, caches stay valid).
        .values(
            search_text=normalize_search_text(row.name, row.description), updated_at=Item.updated_at
        )
    )
