"""422 bodies that never echo a secret back.

FastAPI's validation errors carry each invalid value as ``input``. For a password, that
puts the secret in the response, and from there in browser devtools, proxies' and
clients' logs. This handler answers the same body without ``input`` for every error on
an ``auth``-tagged route (whose bodies hold passwords and refresh tokens, even when the
body is not the expected object at all) and for any field named like a password or token
elsewhere; other errors keep it, since it helps clients find their mistake.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

SECRET_ROUTE_TAGS = frozenset({"auth"})
SECRET_FIELD_WORDS = ("password", "token", "secret")


async def redacted_validation_errors(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for that type only
    route_tags = set(getattr(request.scope.get("route"), "tags", None) or ())
    secret_route = bool(route_tags & SECRET_ROUTE_TAGS)
    errors = [
        _without_input(error) if secret_route or _names_a_secret(error) else error
        for error in exc.errors()
    ]
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})


def _names_a_secret(error: dict[str, Any]) -> bool:
    return any(
        isinstance(part, str) and any(word in part.lower() for word in SECRET_FIELD_WORDS)
        for part in error.get("loc", ())
    )


def _without_input(error: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in error.items() if key != "input"}
