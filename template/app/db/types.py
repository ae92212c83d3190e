"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Dialect, Integer
from sqlalchemy.types import TypeDecorator

# The largest values the id (BIGINT) and price (INTEGER) columns hold on both databases:
# a bigger integer in a query is an OverflowError or DataError, so the API refuses it first.
MAX_BIGINT = 2**63 - 1
MAX_INTEGER = 2**31 - 1

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigIntPrimaryKey = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp.

    SQLite has no time zones, so values are stored as naive UTC and made aware
    again on load; keyset cursors then compare equal values on both databases.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; ValueError for a naive time or one UTC cannot hold.

    An offset can carry a time past the calendar's ends: 0001-01-01T00:00+14:00 is in
    year 0 in UTC, which ``datetime`` cannot represent (OverflowError, not ValueError).
    """
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass a timezone-aware value")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is outside the range UTC times can hold") from None


def utc_now() -> datetime:
    return datetime.now(UTC)
