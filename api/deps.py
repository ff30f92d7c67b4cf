"""The routes' dependencies, as `Annotated` aliases; tests swap them with dependency_overrides.

Everything here reads what the app's lifespan built (`app.state`), never global settings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request

from api.errors import unavailable
from api.serving import SnapshotUnavailableError
from ownership.policy import Policy
from pipelines.snapshot import Snapshot


def current_snapshot(request: Request) -> Snapshot:
    try:
        snapshot: Snapshot = request.app.state.snapshots.current()
    except SnapshotUnavailableError as error:
        raise unavailable(f"{error}; run `ownership score` to publish one") from error
    return snapshot


def now(request: Request) -> datetime:
    """The current time, naive UTC, from the app's clock."""
    moment: datetime = request.app.state.clock()
    return moment


def policy(request: Request) -> Policy:
    chosen: Policy = request.app.state.policy
    return chosen


async def authenticated_client(request: Request) -> Any:
    """The client whose OAuth 1.0a signature this request carries (DESIGN §6)."""
    body = await request.body()
    client_ip = request.client.host if request.client else ""
    return request.app.state.authenticator.authenticate(
        request.method, str(request.url), dict(request.headers), body, client_ip
    )


SnapshotDep = Annotated[Snapshot, Depends(current_snapshot)]
NowDep = Annotated[datetime, Depends(now)]
PolicyDep = Annotated[Policy, Depends(policy)]
ClientDep = Annotated[Any, Depends(authenticated_client)]
