"""The docs pages and their metrics behind a prefix (a balancer's path, uvicorn's
`root_path`): the pages name their scripts and the document under it, once, and the requests
are counted under the routes the app knows them by."""

from __future__ import annotations

import asyncio
import re

import httpx
from fastapi import FastAPI

from api.docs_pages import add_docs_pages
from api.observability import ObservabilityMiddleware, _route_path


async def page(app: FastAPI, prefix: str, path: str) -> str:
    transport = httpx.ASGITransport(app=app, root_path=prefix)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        return (await client.get(path)).text


def test_behind_a_prefix_the_pages_name_what_they_load_under_it_once() -> None:
    app = FastAPI(docs_url=None, redoc_url=None)
    add_docs_pages(app)

    for prefix in ("/svc", "/svc/"):
        html = asyncio.run(page(app, prefix, "/docs"))
        sources = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]|url: ['"]([^'"]+)['"]""", html)
        named = [one or other for one, other in sources]

        assert "/svc/openapi.json" in named
        assert all(name.startswith("/svc/") and "//" not in name for name in named), named


def test_a_prefix_is_not_part_of_the_route_a_request_is_counted_under() -> None:
    assert _route_path("/svc/docs", "/svc") == "/docs"
    assert _route_path("/svc//docs", "/svc/") == "/docs"  # as uvicorn writes it
    assert _route_path("/svc/docs", "/svc/") == "/docs"
    assert _route_path("/svcdocs", "/svc") == "/svcdocs"
    assert _route_path("/svc/docs-assets/swagger-ui.css", "/svc/") == "/docs-assets/swagger-ui.css"
    assert _route_path("/docs", "") == "/docs"
    middleware = ObservabilityMiddleware(FastAPI(), static_folders=["/docs-assets"])
    assert middleware._static_template("/docs-assets/swagger-ui.css") == "/docs-assets"
