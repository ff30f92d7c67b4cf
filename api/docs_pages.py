"""The OpenAPI document rendered at `/docs` (Swagger UI) and `/redoc` (ReDoc), with their
scripts served by the service itself: a CDN, FastAPI's default, cannot be reached from a
closed network, where the pages would stay blank. The scripts are those `fastapi-offline`
packages (Swagger UI 5 and ReDoc 2, which read OpenAPI 3.1)."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

DOCS_ASSETS = "/docs-assets"
SWAGGER_UI, REDOC = "/docs", "/redoc"
DOCS_PAGES = (SWAGGER_UI, REDOC)
_ASSETS = Path(fastapi_offline.__file__).parent / "static"


def add_docs_pages(app: FastAPI) -> None:
    """The two pages (GET and HEAD, as FastAPI's own) and the folder of their scripts."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=_ASSETS), name="docs-assets")
    title = app.title

    def root(request: Request) -> str:  # behind a prefix: `/svc` or `/svc/`
        return str(request.scope.get("root_path", "")).rstrip("/")

    def openapi_url(request: Request) -> str:
        return f"{root(request)}{app.openapi_url}"

    def assets(request: Request) -> str:
        return f"{root(request)}{DOCS_ASSETS}"

    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url(request),
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{assets(request)}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets(request)}/swagger-ui.css",
            swagger_favicon_url=f"{assets(request)}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url(request),
            title=f"{title} - ReDoc",
            redoc_js_url=f"{assets(request)}/redoc.standalone.js",
            redoc_favicon_url=f"{assets(request)}/favicon.png",
            with_google_fonts=False,
        )

    app.add_route(SWAGGER_UI, swagger_ui, include_in_schema=False)
    app.add_route(REDOC, redoc, include_in_schema=False)
