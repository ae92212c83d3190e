"""Bodies of the /items endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.db.models import ItemStatus

# PostgreSQL text cannot hold NUL characters: refuse them here (422), not in the database.
NO_NUL = r"^[^\x00]*$"
Name = Annotated[
    str, Field(min_length=1, max_length=200, pattern=NO_NUL, description="No NUL characters.")
]
Description = Annotated[
    str, Field(max_length=10_000, pattern=NO_NUL, description="No NUL characters.")
]
PriceCents = Annotated[int, Field(ge=0, le=2**31 - 1, description="Price in cents.")]


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = ""
    status: ItemStatus = ItemStatus.DRAFT
    price_cents: PriceCents = 0


class ItemUpdate(BaseModel):
    """A partial update: only the fields sent change."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    status: ItemStatus | None = None
    price_cents: PriceCents | None = None

    @model_validator(mode="after")
    def _reject_nulls(self) -> Self:
        nulls = sorted(field for field in self.model_fields_set if getattr(self, field) is None)
        if nulls:
            raise ValueError(f"{', '.join(nulls)} cannot be null; omit a field to keep it")
        return self

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_id: int
    name: str
    description: str
    status: ItemStatus
    price_cents: int
    created_at: datetime
    updated_at: datetime


class ItemPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end."
    )
