"""Bodies of the /items endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from app.db.models import ItemStatus

# PostgreSQL text cannot hold NUL characters: refuse them here (422), not in the database.
NO_NUL = r"^[^\x00]*$"
Name = Annotated[
    str, Field(min_length=1, max_length=200, pattern=NO_NUL, description="No NUL characters.")
]
Description = Annotated[
    str, Field(max_length=10_000, pattern=NO_NUL, description="No NUL characters.")
]


def _json_number(value: object) -> object:
    """Refuse true/false and text, which lax int parsing would turn into prices (false -> 0,
    as fuzzing found). A JSON number with no fraction (5.0) is an integer to JSON Schema,
    so it stays accepted; 5.5 is still refused by the int type."""
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number, not true/false or text")
    return value


PriceCents = Annotated[
    int,
    Field(ge=0, le=2**31 - 1, description="Price in cents."),
    BeforeValidator(_json_number),
]


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = ""
    status: ItemStatus = ItemStatus.DRAFT
    price_cents: PriceCents = 0


def _omit_null_from_schema(schema: dict[str, Any]) -> None:
    """Document the fields as optional but never null, which is what _reject_nulls enforces."""
    for prop in schema.get("properties", {}).values():
        choices = prop.pop("anyOf", None)
        if choices is not None:
            prop.update(next(choice for choice in choices if choice.get("type") != "null"))
        prop.pop("default", None)


class ItemUpdate(BaseModel):
    """A partial update: only the fields sent change."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_omit_null_from_schema)

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


class ItemFields(BaseModel):
    """An item with only the fields named in ``?fields=`` (``id`` always); see fieldsets.py."""

    model_config = ConfigDict(json_schema_extra=_omit_null_from_schema)

    id: int
    owner_id: int | None = None
    name: str | None = None
    description: str | None = None
    status: ItemStatus | None = None
    price_cents: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ItemFieldsPage(BaseModel):
    """A page of sparse items: what list endpoints answer when ``?fields=`` is given."""

    items: list[ItemFields]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end."
    )
