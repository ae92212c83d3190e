"""Sparse fieldsets: ``?fields=name,price_cents`` returns (and SELECTs) only those fields.

``id`` is always included. Unknown names are a 422 that lists the allowed ones.
The response body is built by a model holding just the chosen fields, so each
field is serialized exactly as in the full response.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, create_model


class FieldSet:
    """The fields one request asked for, in the response model's order."""

    def __init__(self, model: type[BaseModel], names: frozenset[str]) -> None:
        self.model = model
        self.names = tuple(name for name in model.model_fields if name in names)

    def partial_model(self) -> type[BaseModel]:
        return _partial_model(self.model, self.names)


def query_error(name: str, value: object, message: str) -> RequestValidationError:
    """A 422 for query parameter ``name`` shaped like FastAPI's own validation errors."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": value}]
    )


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
        # The same 422 body as any other invalid parameter, so clients parse one shape.
        raise query_error(
            "fields",
            raw,
            f"Unknown field(s) in fields=: {', '.join(unknown)}; "
            f"allowed fields: {', '.join(allowed)}",
        )
    return FieldSet(model, frozenset(names | {"id"}))


def fields_pattern(model: type[BaseModel]) -> Callable[[dict[str, Any]], None]:
    """Documents the ``fields`` grammar for ``model`` as a pattern (json_schema_extra).

    The pattern is only documented (clients and schema-based testers see exactly which
    values are accepted); parse_fields checks the value and names the allowed fields in
    its error, which a pattern mismatch could not.
    """
    names = "|".join(re.escape(name) for name in model.model_fields)
    item = rf"\s*(?:(?:{names})\s*)?"
    pattern = f"^{item}(?:,{item})*$"

    def document_pattern(schema: dict[str, Any]) -> None:
        for choice in schema.get("anyOf", [schema]):  # the string branch of str | None
            if choice.get("type") == "string":
                choice["pattern"] = pattern

    return document_pattern


FIELDS_DESCRIPTION = "Comma-separated fields to return (id is always included); omit for all."
