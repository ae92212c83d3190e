"""Seed N published items fast, straight through the database: ``python -m bench.seed``.

Uses the app's own settings, engine and models, so it seeds whatever ``DATABASE_URL``
points at (SQLite by default, PostgreSQL in the benchmark). Rows go in with multi-row
INSERTs in batches, one transaction per batch, with distinct ``created_at`` values one
millisecond apart so keyset pages are stable. Run ``alembic upgrade head`` first.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import timedelta

from sqlalchemy import func, insert, select

from app.auth.passwords import hash_password
from app.db.engine import create_engine
from app.db.models import Item, ItemStatus, User
from app.db.types import utc_now
from app.settings import Settings

SEED_OWNER_EMAIL = "bench-seed@example.com"
MAX_ITEMS = 5_000_000
# Each catalog page carries a description like this, so compression has text to work on.
DESCRIPTION = "A sturdy benchmark item with a plain description, repeated across the catalog. "


async def seed(settings: Settings, items: int, batch_size: int = 2_000) -> int:
    """Insert ``items`` published items owned by one seed user; returns the items table size."""
    engine = create_engine(settings.primary_database_url, settings)
    try:
        async with engine.begin() as connection:
            owner_id = await connection.scalar(
                select(User.id).where(User.email == SEED_OWNER_EMAIL)
            )
            if owner_id is None:
                owner_id = await connection.scalar(
                    insert(User)
                    .values(
                        email=SEED_OWNER_EMAIL,
                        password_hash=await hash_password("bench-seed-password-unused"),
                        created_at=utc_now(),
                    )
                    .returning(User.id)
                )
        started = utc_now() - timedelta(milliseconds=items)
        for first in range(0, items, batch_size):
            rows = [
                {
                    "owner_id": owner_id,
                    "name": f"Bench item {number}",
                    "description": DESCRIPTION * 3,
                    "status": ItemStatus.PUBLISHED,
                    "price_cents": (number * 37) % 100_000,
                    "created_at": started + timedelta(milliseconds=number),
                    "updated_at": started + timedelta(milliseconds=number),
                }
                for number in range(first, min(first + batch_size, items))
            ]
            async with engine.begin() as connection:
                # A multi-row VALUES per statement (SQLAlchemy's insertmanyvalues).
                await connection.execute(insert(Item), rows)
        async with engine.connect() as connection:
            total = await connection.scalar(select(func.count()).select_from(Item))
        return int(total or 0)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.seed", description=__doc__)
    parser.add_argument("--items", type=int, default=100_000, help="items to add (100000)")
    parser.add_argument("--batch-size", type=int, default=2_000, help="rows per transaction")
    args = parser.parse_args(argv)
    if not 0 < args.items <= MAX_ITEMS:
        parser.error(f"--items must be between 1 and {MAX_ITEMS}")
    started = time.perf_counter()
    total = asyncio.run(seed(Settings(), args.items, args.batch_size))
    elapsed = time.perf_counter() - started
    print(f"seeded {args.items} items in {elapsed:.1f} s; the items table now has {total}")  # noqa: T201


if __name__ == "__main__":
    main()
