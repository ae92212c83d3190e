"""The id of the request being served, readable anywhere below it (logs, jobs)."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
