"""ETags on GET responses, and 304 Not Modified when ``If-None-Match`` matches.

The tag is a hash of the uncompressed body, so it is weak (``W/"..."``): the gzip,
brotli and identity forms of one response are the same resource state. A 304 saves the
body and its compression; the handler still runs (this is about bytes on the wire).
"""

from __future__ import annotations

import hashlib

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Headers a 304 must not carry: it has no body (RFC 9110, section 15.4.5).
_BODY_HEADERS = (b"content-length", b"content-type", b"content-encoding", b"transfer-encoding")


def weak_etag(body: bytes) -> str:
    return f'W/"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison of ``etag`` against an ``If-None-Match`` list (or ``*``)."""
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(
        candidate.strip().removeprefix("W/") == opaque for candidate in if_none_match.split(",")
    )


class ETagMiddleware:
    """``compression_minimum_size_bytes``: bodies this large get compressed (and ``Vary:
    Accept-Encoding``) outside this layer; their 304 must say ``Vary`` too (RFC 9110,
    section 15.4.5), and the compression layer passes a 304 through untouched."""

    def __init__(self, app: ASGIApp, *, compression_minimum_size_bytes: int | None = None) -> None:
        self.app = app
        self.vary_from_bytes = compression_minimum_size_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        if_none_match = Headers(scope=scope).get("if-none-match")
        start: Message | None = None
        chunks: list[bytes] = []
        passthrough = False

        async def buffering_send(message: Message) -> None:
            nonlocal start, passthrough
            if message["type"] == "http.response.start":
                headers = Headers(raw=message["headers"])
                passthrough = (
                    message["status"] != 200
                    or "etag" in headers
                    or headers.get("content-type", "").startswith("text/event-stream")
                )
                if passthrough:
                    await send(message)
                else:
                    start = message
                return
            if passthrough or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            assert start is not None  # noqa: S101 - ASGI sends the start message first
            body = b"".join(chunks)
            varies = self.vary_from_bytes is not None and len(body) >= self.vary_from_bytes
            await _send_tagged(start, body, if_none_match, send, varies=varies)

        await self.app(scope, receive, buffering_send)


async def _send_tagged(
    start: Message, body: bytes, if_none_match: str | None, send: Send, *, varies: bool
) -> None:
    etag = weak_etag(body)
    headers = MutableHeaders(scope=start)
    headers["ETag"] = etag
    if if_none_match is not None and etag_matches(if_none_match, etag):
        if varies:
            headers.add_vary_header("Accept-Encoding")
        start["status"] = 304
        start["headers"] = [(k, v) for k, v in start["headers"] if k not in _BODY_HEADERS]
        await send(start)
        await send({"type": "http.response.body", "body": b""})
        return
    await send(start)
    await send({"type": "http.response.body", "body": body})
