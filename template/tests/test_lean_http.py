"""Practice 4 (lean API): compression above a threshold, ETag/304, 413 over the body limit."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import brotli  # type: ignore[import-untyped]
import httpx
import pytest
import zstandard
from fastapi import FastAPI
from starlette.middleware.base import BaseHTTPMiddleware

from app.settings import Settings
from tests.conftest import PASSWORD, Login, serve

DECOMPRESS = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": lambda body: zstandard.ZstdDecompressor().decompressobj().decompress(body),
}


@asynccontextmanager
async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app built from ``settings`` (started and closed like the server does)."""
    async with serve(settings, base_url="http://t") as (_, client):
        yield client


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
async def test_large_responses_are_compressed_with_the_accepted_encoding(
    client: httpx.AsyncClient, encoding: str
) -> None:
    plain = await client.get("/openapi.json", headers={"Accept-Encoding": "identity"})
    assert len(plain.content) > 500
    assert "content-encoding" not in plain.headers

    async with client.stream(
        "GET", "/openapi.json", headers={"Accept-Encoding": encoding}
    ) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])

    assert response.headers["content-encoding"] == encoding
    assert "accept-encoding" in response.headers["vary"].lower()
    assert len(raw) < len(plain.content) / 2
    assert DECOMPRESS[encoding](raw) == plain.content


async def test_small_responses_are_not_compressed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"Accept-Encoding": "gzip, br, zstd"})
    assert response.status_code == 200
    assert "content-encoding" not in response.headers


async def test_the_threshold_is_a_setting(settings: Settings) -> None:
    async with client_for(
        settings.model_copy(update={"compression_minimum_size_bytes": 1})
    ) as client:
        response = await client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"


async def test_get_responses_carry_an_etag_and_if_none_match_answers_304(
    client: httpx.AsyncClient,
) -> None:
    first = await client.get("/openapi.json")
    etag = first.headers["etag"]
    assert etag.startswith('W/"')

    again = await client.get("/openapi.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert "content-length" not in again.headers or again.headers["content-length"] == "0"

    # The tag is of the content, not the encoding: a gzip client revalidates it too.
    compressed = await client.get(
        "/openapi.json", headers={"If-None-Match": f'"x", {etag}', "Accept-Encoding": "gzip"}
    )
    assert compressed.status_code == 304
    # The 200 varied on Accept-Encoding (it is compressed), so its 304 says so too.
    assert "accept-encoding" in compressed.headers["vary"].lower()
    small = await client.get("/healthz")  # under the compression threshold: no Vary
    assert "vary" not in small.headers
    small_again = await client.get("/healthz", headers={"If-None-Match": small.headers["etag"]})
    assert small_again.status_code == 304
    assert "vary" not in small_again.headers


async def test_a_changed_resource_gets_a_new_etag(client: httpx.AsyncClient, login: Login) -> None:
    tokens = await login("etag@example.com")
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    created = await client.post(
        "/api/v1/items",
        json={"name": "Lamp", "status": "published", "price_cents": 100},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    url = f"/api/v1/items/{created.json()['id']}"
    before = await client.get(url, headers=auth)
    patched = await client.patch(url, json={"name": "Desk lamp"}, headers=auth)
    assert patched.status_code == 200, patched.text
    after = await client.get(url, headers={**auth, "If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert after.json()["name"] == "Desk lamp"


async def test_writes_and_errors_get_no_etag(client: httpx.AsyncClient) -> None:
    assert "etag" not in (await client.get("/api/v1/items/999999")).headers
    login = await client.post("/api/v1/auth/login", json={"email": "a@b.co", "password": "x"})
    assert "etag" not in login.headers


@pytest.mark.parametrize("accept_encoding", ["identity", "br", "gzip"])
async def test_head_answers_every_get_route_with_the_gets_headers_and_no_body(
    client: httpx.AsyncClient, login: Login, accept_encoding: str
) -> None:
    tokens = await login("head@example.com")
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    body = {"name": "Lamp", "status": "published", "description": "bright " * 100}
    created = await client.post("/api/v1/items", json=body, headers=auth)
    urls = [
        "/healthz",
        "/api/v1/items?limit=5",  # a cached catalog page (precompressed)
        "/api/v1/items?limit=5&fields=name",  # built per request
        f"/api/v1/items/{created.json()['id']}",
        "/openapi.json",
    ]
    for url in urls:
        headers = {"Accept-Encoding": accept_encoding}
        got = await client.get(url, headers=headers)
        head = await client.head(url, headers=headers)
        assert (head.status_code, got.status_code) == (200, 200), url
        assert head.content == b"", url
        for name in ("etag", "content-length", "content-encoding", "content-type", "vary"):
            assert head.headers.get(name) == got.headers.get(name), (url, name)
        assert head.headers["cache-control"] == got.headers["cache-control"], url
        revalidated = await client.head(
            url, headers={**headers, "If-None-Match": got.headers["etag"]}
        )
        assert revalidated.status_code == 304, url


async def test_head_on_a_route_without_get_is_405(client: httpx.AsyncClient) -> None:
    response = await client.head("/api/v1/auth/login")
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]


@pytest.fixture
async def small_limit_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(settings.model_copy(update={"max_request_body_bytes": 1024})) as client:
        yield client


async def test_a_declared_body_over_the_limit_gets_413(
    small_limit_client: httpx.AsyncClient,
) -> None:
    response = await small_limit_client.post(
        "/api/v1/auth/register", content=b"x" * 2048, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "request body exceeds the limit of 1024 bytes"}


async def test_a_streamed_body_over_the_limit_gets_413(
    small_limit_client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b" " * 256  # no Content-Length: the middleware has to count

    response = await small_limit_client.post(
        "/api/v1/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "1024 bytes" in response.json()["detail"]


async def test_a_body_under_the_limit_is_served(small_limit_client: httpx.AsyncClient) -> None:
    response = await small_limit_client.post(
        "/api/v1/auth/register", json={"email": "small@example.com", "password": PASSWORD}
    )
    assert response.status_code == 202, response.text


def test_no_middleware_is_a_base_http_middleware(app: FastAPI) -> None:
    """BaseHTTPMiddleware buffers and copies every response; the stack is pure ASGI."""
    assert all(not issubclass(m.cls, BaseHTTPMiddleware) for m in app.user_middleware)  # type: ignore[arg-type]


async def test_cached_pages_are_served_in_each_encoding_with_one_etag(
    client: httpx.AsyncClient, login: Login
) -> None:
    """Cached bodies carry their compressed forms and tag (app/http/precompressed.py): a
    hit answers every client as the middleware would, without compressing or hashing."""
    tokens = await login("pages@example.com")
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    for number in range(12):
        body = {"name": f"Lamp {number}", "status": "published", "description": "bright " * 20}
        assert (await client.post("/api/v1/items", json=body, headers=auth)).status_code == 201
    url = "/api/v1/items?limit=12"
    plain = await client.get(url, headers={"Accept-Encoding": "identity"})  # loads the cache
    assert plain.status_code == 200
    assert "content-encoding" not in plain.headers
    etag = plain.headers["etag"]
    for encoding in ("br", "gzip"):
        async with client.stream("GET", url, headers={"Accept-Encoding": encoding}) as hit:
            raw = b"".join([chunk async for chunk in hit.aiter_raw()])
        assert hit.headers["content-encoding"] == encoding
        assert "accept-encoding" in hit.headers["vary"].lower()
        assert hit.headers["etag"] == etag
        assert int(hit.headers["content-length"]) == len(raw) < len(plain.content)
        assert DECOMPRESS[encoding](raw) == plain.content
        assert hit.headers["cache-control"].startswith("public")
        revalidated = await client.get(
            url, headers={"Accept-Encoding": encoding, "If-None-Match": etag}
        )
        assert revalidated.status_code == 304
        assert revalidated.content == b""
        assert "content-encoding" not in revalidated.headers
        assert revalidated.headers["etag"] == etag
        # As the 200 did (RFC 9110, 15.4.5): a cache revalidating keeps one copy per encoding.
        assert "accept-encoding" in revalidated.headers["vary"].lower()
    # A client that only takes zstd still gets it, from the middleware.
    async with client.stream("GET", url, headers={"Accept-Encoding": "zstd"}) as zstd:
        raw = b"".join([chunk async for chunk in zstd.aiter_raw()])
    assert zstd.headers["content-encoding"] == "zstd"
    assert DECOMPRESS["zstd"](raw) == plain.content
