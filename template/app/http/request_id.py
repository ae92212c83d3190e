"""A request id per request: the caller's ``X-Request-ID`` when it is sane, else a new one.

app/http/observed.py echoes it in the response and keeps it in ``request_id_var``.
"""

from __future__ import annotations

import re
import uuid

REQUEST_ID_HEADER = b"x-request-id"  # as ASGI carries header names: lower case
# Ids from the outside end up in logs: accept only short, printable, log-safe tokens.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id_from(value: str | None) -> str:
    """``value`` when it is a valid request id, else a freshly generated one."""
    if value is not None and _VALID_REQUEST_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex
