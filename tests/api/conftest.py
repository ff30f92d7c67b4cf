"""The API served for real on the loopback, so independent HTTP clients can call it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine

from api.app import create_app
from api.auth import Authenticator
from api.serving import SnapshotSource
from delivery.clock import VirtualClock
from delivery.notify import NotifyService
from delivery.overlay import LiveOverlay
from delivery.templates import TemplateDesk
from ownership.channels import Channel
from ownership.policy import Policy
from pipelines.moderation_rules import load_moderation_rules
from pipelines.reference import load_countries, load_prices
from pipelines.settings import load_settings
from store.clients import SqlClientStore, register_client
from store.database import make_engine, session_factory, upgrade
from store.secrets import SecretCipher
from tests.api.service import NOW, Caller, crafted_history, score_history, serving
from tests.conftest import DATABASES, fresh_database
from tests.delivery.conftest import ORDER_READY
from tests.delivery.fakes import RecordingSms, RecordingSocial, StaticTemplates


@dataclass
class Served:
    caller: Caller
    engine: Engine
    # what the store's client secrets are sealed with, to register more clients
    cipher: SecretCipher
    # the service behind the routes, whose jobs no process runs: a test runs them by hand
    notify: NotifyService


def served_history(
    folder: Path,
    check_interval: float = 1.0,
    overlay_every: float = 1.0,
    database_url: str | None = None,
    rate_clock: Callable[[], float] = time.monotonic,
    **settings: Any,
) -> Iterator[Served]:
    """Score the crafted history into `folder`, serve it, and register a client on loopback.

    The service reads the store's overlay at most once per `overlay_every` seconds; its store
    is the empty database at `database_url`, or else SQLite in `folder`; `settings` are the
    service's other settings, and `rate_clock` fills its clients' rate buckets."""
    scores = score_history(crafted_history(), folder)
    url = database_url or f"sqlite:///{folder / 'ownership.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    cipher = SecretCipher([Fernet.generate_key().decode()])
    with sessions.begin() as session:
        issued = register_client(session, "bank", ["127.0.0.0/8"], cipher)
    snapshots = SnapshotSource(scores / "snapshot.bin", check_interval=check_interval)
    clock = VirtualClock(NOW.replace(tzinfo=UTC))
    overlay = LiveOverlay(
        engine, lambda: NOW, lambda: snapshots.current().as_of, refresh_every=overlay_every
    )
    notify = NotifyService(
        engine,
        clock,
        snapshots.current,
        {Channel.VK: RecordingSocial(Channel.VK), Channel.OK: RecordingSocial(Channel.OK)},
        RecordingSms(),
        StaticTemplates({ORDER_READY.id: ORDER_READY}, pending={"tpl_pending"}),
        load_countries(),
        load_prices(),
        Policy(),
        overlay=overlay,
    )
    app = create_app(
        load_settings(scores_dir=scores, database_url=url, **settings),
        snapshots=snapshots,
        authenticator=Authenticator(SqlClientStore(engine, cipher)),
        clock=lambda: NOW,
        notify_service=notify,
        template_desk=TemplateDesk(sessions, load_moderation_rules()),
        inbound_events=notify,  # what the gateways report goes to it, as in the service
        rate_clock=rate_clock,
    )
    with serving(app) as base:
        yield Served(Caller(base, issued.key, issued.secret), engine, cipher, notify)
    engine.dispose()


@pytest.fixture(scope="module")
def caller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Caller]:
    for served in served_history(tmp_path_factory.mktemp("served")):
        yield served.caller


@pytest.fixture(scope="module", params=DATABASES)
def caller_on_each_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Caller]:
    """The same service on SQLite and then on PostgreSQL, for what only one store refuses."""
    folder = tmp_path_factory.mktemp(f"served-{request.param}")
    with fresh_database(request.param, folder) as url:
        for served in served_history(folder, database_url=url):
            yield served.caller


@pytest.fixture
def swap_caller(tmp_path: Path) -> Iterator[tuple[Caller, Path]]:
    """A service that looks for a new snapshot every 50 ms, with its scores folder."""
    for served in served_history(tmp_path / "served", check_interval=0.05):
        yield served.caller, tmp_path / "served" / "scores"
