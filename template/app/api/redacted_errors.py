"""422 bodies that say where and what was wrong, never what was sent.

FastAPI's validation errors carry each invalid value as ``input`` (and some details as
``ctx``). Echoed back, that put passwords and tokens into browsers, proxies and client
logs, made the answer as large as the request (a 1 MiB body of 50,000 unknown keys got a
5.5 MB 422, encoded on the event loop for 1.8 s), and crashed into a 500 on a value JSON
cannot hold. So every route's 422 keeps, for each error, its location (``loc``), its
``type`` and its message (``msg``), which say which field is wrong and how to fix it: at
most ``MAX_ERRORS`` of them, then one more saying how many were left out; each part is
cut to ``MAX_TEXT_CHARS``. The body's size and the time to build it are bounded whatever
the request held.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError

MAX_ERRORS = 20
MAX_TEXT_CHARS = 200


async def redacted_validation_errors(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for that type only
    errors = exc.errors()
    detail = [_summary(error) for error in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        left_out = len(errors) - MAX_ERRORS
        detail.append(
            {
                "type": "too_many_errors",
                "loc": [_text(part) for part in errors[MAX_ERRORS].get("loc", ())[:1]],
                "msg": f"{left_out} more error(s) not listed; fix these and send again",
            }
        )
    return Response(
        orjson.dumps({"detail": detail}), status_code=422, media_type="application/json"
    )


def _summary(error: dict[str, Any]) -> dict[str, Any]:
    """Where and what: the location, type and message, without the input or context."""
    message = str(error.get("msg", ""))
    reason = (error.get("ctx") or {}).get("error")
    if error.get("type") == "json_invalid" and reason:  # orjson's reason names no input
        message = f"{message}: {reason}"
    return {
        "type": _text(error.get("type", "")),
        "loc": [part if isinstance(part, int) else _text(part) for part in error.get("loc", ())],
        "msg": _text(message),
    }


def _text(value: object) -> str:
    """``value`` as text a JSON answer can hold: cut short, lone surrogates replaced."""
    text = str(value)[:MAX_TEXT_CHARS]
    return text.encode("utf-8", "replace").decode("utf-8")
