"""The refresh-token store being down answers 503 with Retry-After, never a 500.

Login, refresh and logout need the store (Redis); every other endpoint checks access
tokens without it. When the store fails even after the client's retries
(app/stores/redis.py), the caller gets a clear "try again shortly" instead of an
internal error, and the failure is logged and counted in
``session_store_errors_total``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException, status
from prometheus_client import Counter
from redis.exceptions import RedisError

from app.schemas.errors import error_responses

RETRY_AFTER_SECONDS = 5
logger = logging.getLogger(__name__)

SESSION_STORE_ERRORS = Counter(
    "session_store_errors_total",
    "Login, refresh or logout requests answered 503 because the session store failed.",
    ["operation"],
)
UNAVAILABLE = error_responses(
    503, _503="The session store is unreachable; retry after Retry-After seconds"
)


@contextmanager
def session_store(operation: str) -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as error:
        SESSION_STORE_ERRORS.labels(operation).inc()
        logger.warning("session store failed during %s: answering 503", operation, exc_info=error)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"Sessions are temporarily unavailable ({operation} could not reach the session "
            f"store); retry in {RETRY_AFTER_SECONDS} seconds",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from error
