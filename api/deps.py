"""What routes depend on, as `Annotated` aliases; tests swap them with `dependency_overrides`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from api.auth import AuthenticatedClient, Authenticator


async def authenticated_client(request: Request) -> AuthenticatedClient:
    """The client that signed this call; `AuthError` (401/403) otherwise.

    The signature covers the URL the client called, so `request.url` must be that URL: behind a
    proxy run uvicorn with `--proxy-headers` and `--forwarded-allow-ips`, which also makes
    `request.client` the caller's address that the allow-list is checked against.
    """
    authenticator: Authenticator = request.app.state.authenticator
    body = await request.body()  # Starlette keeps it; the route reads the same bytes
    # the nonce insert is blocking I/O (and SQLite may wait for its lock): off the event loop
    return await run_in_threadpool(
        authenticator.authenticate,
        request.method,
        str(request.url),
        request.headers,
        body,
        request.client.host if request.client else "",
    )


AuthenticatedClientDep = Annotated[AuthenticatedClient, Depends(authenticated_client)]
