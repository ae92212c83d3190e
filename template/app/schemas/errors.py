"""The error body every non-validation error has, declared once for the OpenAPI document.

``HTTPException`` answers ``{"detail": "<what was wrong and how to fix it>"}``; request
validation errors (422) keep FastAPI's list of field errors. Declaring each status a
route can answer lets clients (and schemathesis) rely on the document.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    detail: str = Field(description="What was wrong, and how to fix it.")


DESCRIPTIONS = {
    400: "Malformed request: a body that is not JSON, or a cursor this API did not issue",
    401: "Missing, invalid or expired access token",
    404: "Not found",
    409: "Conflict with existing data",
    412: "If-Match names a version that is no longer current; GET it again and retry",
    413: "Request body over MAX_REQUEST_BODY_BYTES",
    429: "Too many requests; retry after Retry-After seconds",
    503: "A dependency is unreachable; retry after Retry-After seconds",
}
Responses = dict[int | str, dict[str, Any]]


def error_responses(*codes: int, **descriptions: str) -> Responses:
    """OpenAPI ``responses`` for ``codes``, each with the ErrorOut body.

    ``descriptions`` overrides the generic text, keyed ``_404`` etc.
    """
    return {
        code: {"model": ErrorOut, "description": descriptions.get(f"_{code}", DESCRIPTIONS[code])}
        for code in codes
    }
