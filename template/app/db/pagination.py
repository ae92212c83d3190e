"""Keyset (cursor) pagination, newest first by (created_at, id).

A page costs the same at any depth: the cursor names the last row seen and the
query seeks past it through a composite index, instead of counting an OFFSET.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

import orjson
from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from app.db.types import MAX_BIGINT, as_utc

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

_Row = TypeVar("_Row", bound=tuple[Any, ...])


class InvalidCursorError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Cursor:
    """The position after which the next page starts."""

    created_at: datetime
    id: int

    def encode(self) -> str:
        raw = orjson.dumps([self.created_at.isoformat(), self.id])
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @classmethod
    def decode(cls, token: str) -> Cursor:
        # Only cursors this API could have issued: an aware time that UTC can hold (the
        # column's zone; as_utc refuses the rest) and an id the column holds.
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            created_at, row_id = orjson.loads(raw)
            cursor = cls(as_utc(datetime.fromisoformat(created_at)), int(row_id))
        except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError) as error:
            raise InvalidCursorError(token) from error
        if not 0 < cursor.id <= MAX_BIGINT:
            raise InvalidCursorError(token)
        return cursor


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    after: Cursor | None


class Keyed(Protocol):
    created_at: datetime
    id: int


def paginate(
    query: Select[_Row],
    page: PageRequest,
    created_at: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[int],
) -> Select[_Row]:
    """Order ``query`` newest first, seek past the cursor, and fetch one extra row."""
    if page.after is not None:
        query = query.where(tuple_(created_at, row_id) < (page.after.created_at, page.after.id))
    return query.order_by(created_at.desc(), row_id.desc()).limit(page.limit + 1)


def next_cursor(rows: Sequence[Keyed], page: PageRequest) -> str | None:
    """The cursor of the next page, or None when ``rows`` (limit + 1 fetched) was the last."""
    if len(rows) <= page.limit:
        return None
    last = rows[page.limit - 1]
    return Cursor(last.created_at, last.id).encode()
