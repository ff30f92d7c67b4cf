"""The API's composition root: `create_app` builds the FastAPI app and, in its lifespan, the
adapters it needs from the settings, unless a caller (a test, the bench) hands them in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.auth import Authenticator
from api.errors import install_error_handlers
from api.observability import ObservabilityMiddleware
from api.routes import camara, checks, ops
from api.serving import SnapshotSource
from ownership.policy import Policy
from pipelines.publish import SNAPSHOT_FILE
from pipelines.settings import Settings
from store.clients import SqlClientStore, forget_nonces_before
from store.database import make_engine, session_factory
from store.secrets import load_cipher

log = logging.getLogger(__name__)

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
    authenticator: Authenticator | None = None,
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
        housekeeping = []
        if authenticator is None:
            sessions = session_factory(make_engine(settings.database_url))
            housekeeping.append(
                asyncio.create_task(forget_old_nonces(sessions, settings.nonce_retention_seconds))
            )
        yield
        for task in housekeeping:
            task.cancel()

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


def build_authenticator(settings: Settings) -> Authenticator:
    """OAuth 1.0a over the store named by the settings (migrated by `ownership serve`)."""
    cipher = load_cipher(settings.secret_key_text(), settings.secret_key_file)
    sessions = session_factory(make_engine(settings.database_url))
    return Authenticator(
        SqlClientStore(sessions, cipher),
        timestamp_skew_seconds=settings.oauth_timestamp_skew_seconds,
    )


async def forget_old_nonces(
    sessions: sessionmaker[Session], retention_seconds: int, every_seconds: float = 60.0
) -> None:
    """Delete nonces older than the retention, which the timestamp window refuses anyway."""
    while True:
        await asyncio.sleep(every_seconds)
        cutoff = datetime.now(UTC) - timedelta(seconds=retention_seconds)
        try:
            with sessions.begin() as session:
                forget_nonces_before(session, cutoff)
        except SQLAlchemyError:
            log.exception("could not forget old nonces; trying again in %s s", every_seconds)
