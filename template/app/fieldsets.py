"""Sparse fieldsets: ``?fields=name,price_cents`` returns (and SELECTs) only those fields.

``id`` is always included. Unknown names are a 422 that lists the allowed ones.
The response body is built by a model holding just the chosen fields, so each
field is serialized exactly as in the full response.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from fastapi import HTTPException, Query, status
from pydantic import BaseModel, create_model


class FieldSet:
    """The fields one request asked for, in the response model's order."""

    def __init__(self, model: type[BaseModel], names: frozenset[str]) -> None:
        self.model = model
        self.names = tuple(name for name in model.model_fields if name in names)

    def partial_model(self) -> type[BaseModel]:
        return _partial_model(self.model, self.names)


@lru_cache(maxsize=256)
def _partial_model(model: type[BaseModel], names: tuple[str, ...]) -> type[BaseModel]:
    fields: dict[str, Any] = {name: (model.model_fields[name].annotation, ...) for name in names}
    return create_model(f"{model.__name__}Fields", __config__=model.model_config, **fields)


def parse_fields(model: type[BaseModel], raw: str | None) -> FieldSet | None:
    """The fields named in ``raw`` (comma-separated), or None for every field."""
    if raw is None or not raw.strip():
        return None
    allowed = model.model_fields.keys()
    names = {name.strip() for name in raw.split(",") if name.strip()}
    unknown = sorted(names - allowed)
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"Unknown field(s) in fields=: {', '.join(unknown)}; "
            f"allowed fields: {', '.join(allowed)}",
        )
    return FieldSet(model, frozenset(names | {"id"}))


FieldsQuery = Annotated[
    str | None,
    Query(
        max_length=500,
        description="Comma-separated fields to return (id is always included); omit for all.",
        examples=["name,price_cents"],
    ),
]
