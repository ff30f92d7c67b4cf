"""The API's composition root: `create_app` builds the FastAPI app and, in its lifespan, the
adapters it needs from the settings, unless a caller (a test, the bench) hands them in."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.auth import Authenticator, build_authenticator
from api.docs_pages import DOCS_ASSETS, DOCS_PAGES, add_docs_pages
from api.errors import install_error_handlers
from api.limits import BodyLimitMiddleware
from api.observability import NotifyGauges, ObservabilityMiddleware, mark_worker
from api.rate_limit import client_rate_limit
from api.routes import admin, camara, checks, inbound, notify, ops, templates, webhooks
from api.serving import SnapshotSource
from delivery.clock import build_clock
from delivery.events import InboundEvents, LoggedInboundEvents
from delivery.figures import notify_figures
from delivery.gateway_signatures import GatewaySignatures
from delivery.notify import NotifyService
from delivery.overlay import LiveOverlay
from delivery.runtime import build_notify_runtime
from delivery.templates import TemplateDesk, build_template_desk
from ownership.policy import Policy
from pipelines.logs import FailureStreaks, first_line
from pipelines.publish import SNAPSHOT_FILE
from pipelines.settings import Settings
from store.clients import forget_nonces_before
from store.database import make_engine, session_factory

log = logging.getLogger(__name__)

DESCRIPTION = """Pre-send checks of phone-number ownership, CAMARA number recycling and tenure.

A client's every call is signed with OAuth 1.0a (two-legged, HMAC-SHA1 or HMAC-SHA256,
`oauth_body_hash` over the JSON body) and must come from the client's allowed addresses; the
moderators' routes take the admin token, and the gateways' events their Standard Webhooks
signatures (each route names its scheme). `/healthz` and `/metrics` are open. Errors are
`{"status", "code", "message"}` with CAMARA's codes and the service's own (`ErrorCode`). The
webhooks the service sends its clients are listed under `webhooks`.
"""


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def create_app(
    settings: Settings,
    *,
    snapshots: SnapshotSource | None = None,
    authenticator: Authenticator | None = None,
    clock: Callable[[], datetime] | None = None,
    policy: Policy | None = None,
    notify_service: NotifyService | None = None,
    template_desk: TemplateDesk | None = None,
    inbound_events: InboundEvents | None = None,
    on_jobs_lost: Callable[[], None] | None = None,
    rate_clock: Callable[[], float] = time.monotonic,
) -> FastAPI:
    """`inbound_events` takes what the channel gateways report (`/v1/networks/{network}/events`,
    `/v1/sms/events`): the notify service; until one is wired, events are logged and dropped.
    `on_jobs_lost` is called when the jobs the app runs (`run_jobs`) stopped for a lost
    simulators lock: the server ends the process (api.main). `rate_clock`, monotonic seconds,
    fills the clients' rate buckets (api.rate_limit)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with _marked_worker():
            async with _serving(app):
                yield

    @asynccontextmanager
    async def _serving(app: FastAPI) -> AsyncIterator[None]:
        app.state.snapshots = snapshots or SnapshotSource(
            settings.scores_dir / SNAPSHOT_FILE, settings.snapshot_check_seconds
        )
        app.state.snapshots.refresh()
        # one clock for checks and notifications: the system's, or the demo's faster one
        notify_clock = build_clock(settings)
        app.state.clock = clock or (lambda: notify_clock.now().astimezone(UTC).replace(tzinfo=None))
        app.state.policy = policy or Policy(freshness=timedelta(days=settings.freshness_days))
        app.state.notify = notify_service
        app.state.admin_token = settings.admin_token
        app.state.client_rate_limit = client_rate_limit(settings, rate_clock)
        app.state.private_callbacks = settings.callback_private_addresses
        app.state.templates = template_desk
        app.state.inbound = inbound_events or LoggedInboundEvents()
        app.state.gateway_signatures = GatewaySignatures.from_text(
            settings.gateway_secret_texts(),
            timedelta(seconds=settings.gateway_signature_tolerance_seconds),
        )
        app.state.overlay = _overlay_of(app)
        app.state.notify_gauges = _notify_gauges_of(app)
        if authenticator is not None:
            app.state.authenticator = authenticator
            yield
            return
        # the store, migrated beforehand by `ownership serve`
        engine = make_engine(settings.database_url)
        # nonces need no disk flush before the answer: a commit that waits for one would cost
        # more than the rest of a check
        nonce_engine = make_engine(
            settings.database_url, pool_size=50, durable=False, pre_ping=False
        )
        app.state.authenticator = build_authenticator(
            settings, nonce_engine, policy=app.state.policy
        )
        desk = template_desk or build_template_desk(
            settings, session_factory(engine), clock=notify_clock
        )
        app.state.templates = desk
        runtime = None
        if notify_service is None:
            runtime = build_notify_runtime(
                settings, engine, notify_clock, app.state.snapshots.current, desk
            )
            app.state.notify = runtime.service
            app.state.overlay = _overlay_of(app)
            app.state.notify_gauges = _notify_gauges_of(app)
            if inbound_events is None:
                app.state.inbound = runtime.service
            if settings.run_jobs:
                runtime.start_jobs(settings, engine)
        housekeeping = asyncio.create_task(
            forget_old_nonces(session_factory(engine), settings.nonce_retention_seconds)
        )
        lost_watch = None
        if runtime is not None and settings.run_jobs and on_jobs_lost is not None:
            lost_watch = asyncio.create_task(_once_set(runtime.lost, on_jobs_lost))
        yield
        housekeeping.cancel()
        if lost_watch is not None:
            lost_watch.cancel()
        if runtime is not None:
            runtime.stop_jobs()
        nonce_engine.dispose()
        engine.dispose()

    app = FastAPI(
        title="Phone-ownership checks",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        webhooks=webhooks.router,  # what the service sends its clients, documented only
        # a path with a slash too many is unknown, answered 404 in the envelope: a redirect would
        # lead a signed call to a URL its signature does not cover, and a 401
        redirect_slashes=False,
        docs_url=None,  # served below, with scripts of their own
        redoc_url=None,
    )
    add_docs_pages(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        ObservabilityMiddleware,
        static_paths=[path for path in (app.openapi_url, *DOCS_PAGES) if path],
        static_folders=[DOCS_ASSETS],
    )
    install_error_handlers(app)
    routers = [module.router for module in (checks, camara, notify, templates, admin, inbound, ops)]
    for router in routers:
        app.include_router(router)
    app.state.methods_by_path = methods_by_path(routers)
    return app


def methods_by_path(routers: Iterable[APIRouter]) -> dict[str, set[str]]:
    """The methods each path takes, for a 405's `Allow`, over every route of the routers."""
    methods: dict[str, set[str]] = defaultdict(set)
    for router in routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                methods[route.path_format] |= route.methods or set()
    return dict(methods)


def _notify_gauges_of(app: FastAPI) -> NotifyGauges | None:
    """The notify path's gauges over the service's store; none without a service."""
    service: NotifyService | None = app.state.notify
    if service is None:
        return None
    return NotifyGauges(lambda: notify_figures(service.engine, service.clock.now()))


def _overlay_of(app: FastAPI) -> LiveOverlay:
    """The notify service's overlay, loaded now rather than by the first check; without a
    service, an empty one (nothing in this process learns answers)."""
    service: NotifyService | None = app.state.notify
    if service is None:
        return LiveOverlay(None, app.state.clock)
    try:
        service.overlay.refresh()
    except SQLAlchemyError:
        log.exception("could not load the live overlay yet; the first checks will try again")
    return service.overlay


async def _once_set(
    event: threading.Event, then: Callable[[], None], every_seconds: float = 0.5
) -> None:
    """Call `then` once `event` is set (from another thread)."""
    while not event.is_set():
        await asyncio.sleep(every_seconds)
    then()


async def forget_old_nonces(
    sessions: sessionmaker[Session], retention_seconds: int, every_seconds: float = 60.0
) -> None:
    """Delete nonces older than the retention, which the timestamp window refuses anyway. A
    store down fails every round: the first failure of a kind is told with its traceback, more
    counted in a line a minute (`FailureStreaks`)."""
    failures = FailureStreaks()
    while True:
        await asyncio.sleep(every_seconds)
        cutoff = datetime.now(UTC) - timedelta(seconds=retention_seconds)
        try:
            with sessions.begin() as session:
                forget_nonces_before(session, cutoff)
        except SQLAlchemyError as error:
            telling = failures.failed("nonces", error)
            if telling is not None and telling.first:
                log.exception("could not forget old nonces; trying again in %s s", every_seconds)
            elif telling is not None:
                log.error(
                    "could not forget old nonces %d more times the same way, last: %s",
                    telling.untold,
                    first_line(error),
                )
        else:
            failures.ended("nonces")


@contextmanager
def _marked_worker() -> Iterator[None]:
    """With several workers (a multiprocess metrics directory), this worker's mark there while
    it serves, so that each worker's process metrics are shown (`WorkerProcesses`)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    mark = mark_worker(directory) if directory else None
    try:
        yield
    finally:
        if mark is not None:
            with suppress(OSError):
                mark.unlink()
