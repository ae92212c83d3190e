"""Practice 9: hashed static assets and Cache-Control for browsers and the CDN."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
import pytest

from app.api.static_files import STATIC_DIR, StaticAssets
from app.settings import Settings
from tests.conftest import Login, bearer

IMMUTABLE = "public, max-age=31536000, immutable"
PRIVATE = "private, no-store"


async def test_landing_page_links_content_hashed_assets_served_immutable(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    links = re.findall(r'href="(/static/[^"]+)"', page.text)
    assert len(links) == 2
    for link in links:
        name = link.removeprefix("/static/")
        logical = re.sub(r"\.[0-9a-f]{12}(?=\.)", "", name)
        content = (STATIC_DIR / logical).read_bytes()
        assert hashlib.sha256(content).hexdigest()[:12] in name
        asset = await client.get(link)
        assert asset.status_code == 200
        assert asset.content == content
        assert asset.headers["cache-control"] == IMMUTABLE
    # The unhashed name still works but is revalidated, never kept "forever".
    plain = await client.get("/static/app.css")
    assert plain.status_code == 200
    assert "immutable" not in plain.headers["cache-control"]
    assert (await client.get("/static/nope.css")).status_code == 404


def test_a_changed_file_gets_a_new_name_under_static_url(tmp_path: Path) -> None:
    (tmp_path / "app.css").write_text("a {}")
    before = StaticAssets(tmp_path, url_prefix="https://cdn.example.com/static/").url("app.css")
    (tmp_path / "app.css").write_text("a { color: red }")
    after = StaticAssets(tmp_path, url_prefix="https://cdn.example.com/static/").url("app.css")
    assert before.startswith("https://cdn.example.com/static/app.")
    assert before != after
    StaticAssets(tmp_path).export(tmp_path / "out")
    assert (tmp_path / "out" / after.rsplit("/", 1)[1]).read_text() == "a { color: red }"


async def test_public_reads_carry_s_maxage_from_settings(
    client: httpx.AsyncClient, login: Login, settings: Settings
) -> None:
    ada = await login("ada@example.com")
    created = await client.post(
        "/api/v1/items", json={"name": "Desk", "status": "published"}, headers=bearer(ada)
    )
    expected = (
        f"public, max-age={settings.public_max_age_seconds}, "
        f"s-maxage={settings.cdn_s_maxage_seconds}"
    )
    item = f"/api/v1/items/{created.json()['id']}"
    # Twice each: a miss, then a hit served as the cached body; sparse answers too.
    urls = ("/", "/api/v1/items", "/api/v1/items?fields=name", item, f"{item}?fields=name")
    for url in urls * 2:
        response = await client.get(url)
        assert response.status_code == 200
        assert response.headers["cache-control"] == expected


@pytest.mark.parametrize(
    ("method", "url", "authorized"),
    [
        pytest.param("GET", "/api/v1/items", True, id="catalog-with-authorization"),
        pytest.param("GET", "/api/v1/users/me", True, id="users-me"),
        pytest.param("GET", "/api/v1/me/items", True, id="me-items"),
        pytest.param("POST", "/api/v1/auth/login", False, id="auth"),
        pytest.param("POST", "/api/v1/items", True, id="write"),
        pytest.param("GET", "/api/v1/items/999999", False, id="not-found"),
        pytest.param("GET", "/healthz", False, id="health"),
    ],
)
async def test_private_and_uncacheable_responses_are_private_no_store(
    client: httpx.AsyncClient, login: Login, method: str, url: str, authorized: bool
) -> None:
    headers = bearer(await login("ada@example.com")) if authorized else {}
    body = {"name": "Desk"} if url == "/api/v1/items" and method == "POST" else {}
    response = await client.request(method, url, headers=headers, json=body or None)
    assert response.headers["cache-control"] == PRIVATE
