"""Job names -> handlers. A handler gets the job's transaction and its message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.jobs.message import JobMessage


@dataclass(frozen=True, slots=True)
class JobContext:
    """``session`` is inside the transaction that also records the job as processed:
    a handler that writes through it applies its effect at most once per job id."""

    session: AsyncSession
    message: JobMessage

    @property
    def payload(self) -> dict[str, Any]:
        return self.message.payload


Handler = Callable[[JobContext], Awaitable[None]]


class JobRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def job(self, name: str) -> Callable[[Handler], Handler]:
        """Register the decorated coroutine as the handler of ``name``."""

        def register(handler: Handler) -> Handler:
            if name in self._handlers:
                raise ValueError(f"job {name!r} already has a handler")
            self._handlers[name] = handler
            return handler

        return register

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def names(self) -> list[str]:
        return sorted(self._handlers)
