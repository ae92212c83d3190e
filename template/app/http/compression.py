"""Response compression: zstd, brotli or gzip, whichever the client accepts best.

starlette-compress picks by ``Accept-Encoding`` (zstd > br > gzip) and leaves bodies
under the threshold alone: below a few hundred bytes the headers and CPU cost more than
compression saves. Levels are the library's fast defaults (zstd 4, brotli 4, gzip 4):
dynamic API responses favour speed; static assets are precompressed by the CDN.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette_compress import CompressMiddleware


def compression(*, minimum_size_bytes: int) -> Middleware:
    return Middleware(CompressMiddleware, minimum_size=minimum_size_bytes)
