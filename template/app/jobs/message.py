"""The envelope every broker carries: a job name, its payload and delivery bookkeeping."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class JobMessage:
    """``id`` identifies the job across retries and redeliveries (handlers dedupe on it)."""

    id: str
    job: str
    payload: dict[str, Any] = field(default_factory=dict)
    attempt: int = 1
    request_id: str | None = None
    # Epoch seconds when the message became due: enqueue-to-start latency is measured from it.
    ready_at: float = 0.0

    def to_bytes(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_bytes(cls, data: bytes | str) -> JobMessage:
        fields: dict[str, Any] = orjson.loads(data)
        return cls(**fields)

    def next_attempt(self, ready_at: float) -> JobMessage:
        return replace(self, attempt=self.attempt + 1, ready_at=ready_at)
