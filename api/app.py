"""The API's composition root: `create_app` builds the FastAPI app and, in its lifespan, the
adapters it needs from the settings, unless a caller (a test, the bench) hands them in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.observability import ObservabilityMiddleware
from api.routes import camara, checks, ops
from api.serving import SnapshotSource
from ownership.policy import Policy
from pipelines.publish import SNAPSHOT_FILE
from pipelines.settings import Settings

DESCRIPTION = """Pre-send checks of phone-number ownership, CAMARA number recycling and tenure.

Every call but `/healthz` and `/metrics` is signed with OAuth 1.0a (two-legged, HMAC-SHA1 or
HMAC-SHA256, `oauth_body_hash` over the JSON body) and must come from the client's allowed
addresses. Errors are `{"status", "code", "message"}` with CAMARA's codes.
"""


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def create_app(
    settings: Settings,
    *,
    snapshots: SnapshotSource | None = None,
    authenticator: Any = None,
    clock: Callable[[], datetime] = utc_now,
    policy: Policy | None = None,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.snapshots = snapshots or SnapshotSource(
            settings.scores_dir / SNAPSHOT_FILE, settings.snapshot_check_seconds
        )
        app.state.snapshots.refresh()
        app.state.authenticator = authenticator or build_authenticator(settings)
        app.state.clock = clock
        app.state.policy = policy or Policy(freshness=timedelta(days=settings.freshness_days))
        yield

    app = FastAPI(
        title="Phone-ownership checks",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.add_middleware(ObservabilityMiddleware)
    install_error_handlers(app)
    for module in (checks, camara, ops):
        app.include_router(module.router)
    return app


def build_authenticator(settings: Settings) -> Any:
    raise NotImplementedError
