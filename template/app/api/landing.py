"""The landing page: a tiny HTML page that uses the hashed static assets."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app import about
from app.api.deps import PublicCacheControl, resources_of

router = APIRouter(tags=["landing"])


@router.get(
    "/",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=[PublicCacheControl],
)
async def landing(request: Request) -> str:
    resources = resources_of(request)
    assets = resources.static_assets
    name = escape(about.NAME)
    docs = '<a href="/docs">API documentation</a> · ' if resources.settings.docs_enabled else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{name}</title>"
        f'<link rel=icon href="{assets.url("favicon.svg")}" type="image/svg+xml">'
        f'<link rel=stylesheet href="{assets.url("app.css")}">'
        f"</head><body><h1>{name}</h1><p>{escape(about.DESCRIPTION)}</p>"
        f'<p>{docs}<a href="/api/v1/items">catalog</a></p>'
        "</body></html>"
    )
