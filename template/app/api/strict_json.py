"""Request bodies parsed as JSON as RFC 8259 defines it, with a bounded count of errors.

Starlette parses bodies with the standard library, which accepts what JSON has no room
for: NaN, Infinity, numbers that overflow to infinity (1e999999) and lone UTF-16
surrogates ("\\ud800", which no UTF-8 text holds). Such values then failed later, in the
422's encoder, the database driver or the response encoder: 500s. orjson refuses them
while parsing, so the client gets FastAPI's 422 ``json_invalid`` saying where the text
went wrong (orjson's error is a ``json.JSONDecodeError``, which FastAPI answers so).

A body model that forbids unknown fields gets one validation error per unknown key, and
pydantic and FastAPI build every one of them before any handler sees the first: a 1 MiB
object of 50,000 keys held the event loop for 0.4 s. An object with more keys than its
model has fields cannot be valid, so it is answered here, naming the unknown fields,
before validation starts.

Routes declared on a router with ``route_class=StrictJsonRoute`` get this; routes without
a body keep FastAPI's handler untouched, so reads pay nothing for it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

from app.api.redacted_errors import MAX_ERRORS


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler
        fields = _closed_fields(self.body_field.field_info.annotation)

        async def strict_json_handler(request: Request) -> Response:
            strict = StrictJsonRequest(request.scope, request.receive)
            if fields is not None and _declares_json(strict):
                await _refuse_surplus_fields(strict, fields)
            return await handler(strict)

        return strict_json_handler


def _closed_fields(model: object) -> frozenset[str] | None:
    """The field names of a body model that forbids any other, else None."""
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    if model.model_config.get("extra") != "forbid":
        return None
    return frozenset(field.alias or name for name, field in model.model_fields.items())


def _declares_json(request: Request) -> bool:
    """Whether FastAPI will parse this body as JSON (its content type says so)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def _refuse_surplus_fields(request: Request, fields: frozenset[str]) -> None:
    """422 for an object with more keys than ``fields``: it has unknown ones."""
    try:
        body = await request.json()
    except ValueError:
        return  # not JSON: FastAPI answers it (422 json_invalid)
    if not isinstance(body, dict) or len(body) <= len(fields):
        return
    unknown = [key for key in body if key not in fields]
    # As many errors as a 422 lists (app/api/redacted_errors.py), the last one counting
    # the rest: building one per key is what took the time.
    listed = unknown[: MAX_ERRORS - 1]
    errors = [
        {"type": "extra_forbidden", "loc": ("body", key), "msg": "Extra inputs are not permitted"}
        for key in listed
    ]
    if len(unknown) > len(listed):
        errors.append(
            {
                "type": "extra_forbidden",
                "loc": ("body",),
                "msg": f"{len(unknown) - len(listed)} more unknown fields; the body takes "
                f"only {', '.join(sorted(fields))}",
            }
        )
    raise RequestValidationError(errors)
