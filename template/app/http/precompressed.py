"""Cached bodies stored with their ETag and compressed forms, so a cache hit only picks one.

Compressing a 44 KB catalog page (brotli) and hashing it for its ETag cost more than
the rest of a cached hit together. ``BodyEncodings.pack`` does both once, when a body is
loaded into the cache, and packs the tag, the body and its brotli and gzip forms into
one value (one Redis key, one near-cache entry). ``PrecompressedResponse`` answers from
that value what the compression and ETag middleware would have answered from the body:
the best accepted encoding (br > gzip > identity, with ``Vary: Accept-Encoding``), the
weak tag of the uncompressed body, and 304 when ``If-None-Match`` matches. The
middleware pass such a response through (it already has an ETag and an encoding).
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass

import brotli  # type: ignore[import-untyped]
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette_compress._utils import parse_accept_encoding

from app.http.etag import etag_matches, weak_etag

# Part of every cache key holding a packed body: a new layout gets a new name.
PACKED_FORMAT = "packed1"
# The weak tag (W/"<32 hex digits>", 36 bytes), then the lengths of the identity, brotli
# and gzip forms (0: not compressed, the body is under the compression threshold).
_HEADER = struct.Struct("!36sIII")
_JSON = (b"content-type", b"application/json")
_VARY = (b"vary", b"Accept-Encoding")
# What a 304 keeps from a 200 (RFC 9110, section 15.4.5): no body headers.
_NOT_MODIFIED_DROPS = frozenset((b"content-type", b"content-length", b"content-encoding"))


@dataclass(frozen=True, slots=True)
class BodyEncodings:
    """How bodies are compressed when they are stored (the middleware's levels)."""

    minimum_size_bytes: int
    brotli_quality: int = 4
    gzip_level: int = 4

    def pack(self, body: bytes) -> bytes:
        """``body`` with its tag and, at or above the threshold, its brotli and gzip forms."""
        compressed = (b"", b"")
        if len(body) >= self.minimum_size_bytes:
            compressed = (
                brotli.compress(body, quality=self.brotli_quality),
                gzip.compress(body, compresslevel=self.gzip_level, mtime=0),
            )
        header = _HEADER.pack(weak_etag(body).encode(), len(body), *map(len, compressed))
        return b"".join((header, body, *compressed))


def identity_of(packed: bytes) -> bytes:
    """The uncompressed body of a packed value."""
    _, identity, _, _ = _HEADER.unpack_from(packed)
    return packed[_HEADER.size : _HEADER.size + identity]


class PrecompressedResponse(Response):
    """A 200 JSON answer from a packed body, in the encoding the client accepts best."""

    def __init__(self, packed: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        # No Response.__init__: there is no single body to render until the request is seen.
        self.status_code = 200
        self.background = None
        self._packed = packed
        self.raw_headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        etag, identity, br, gz = _HEADER.unpack_from(self._packed)
        accepted = if_none_match = None
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accepted = value
            elif name == b"if-none-match":
                if_none_match = value
        headers = [*self.raw_headers, (b"etag", etag)]
        if br:  # compressed forms exist: the answer depends on Accept-Encoding
            # A 304 says so too (RFC 9110, 15.4.5): a cache that revalidates keeps one
            # stored answer per encoding only if every answer names the header it varies on.
            headers.append(_VARY)
        if if_none_match is not None and etag_matches(
            if_none_match.decode("latin-1"), etag.decode()
        ):
            headers = [header for header in headers if header[0] not in _NOT_MODIFIED_DROPS]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        start = _HEADER.size
        end = start + identity
        encoding = None
        if br:
            encodings = parse_accept_encoding(accepted.decode("latin-1")) if accepted else ()
            if "br" in encodings:
                start, end, encoding = end, end + br, b"br"
            elif "gzip" in encodings:
                start, end, encoding = end + br, end + br + gz, b"gzip"
        if encoding is not None:
            headers.append((b"content-encoding", encoding))
        headers += (_JSON, (b"content-length", str(end - start).encode()))
        body = b"" if scope["method"] == "HEAD" else self._packed[start:end]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
