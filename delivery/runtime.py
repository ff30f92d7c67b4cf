"""The notify path as a process runs it: the service, its channels, webhooks and jobs, built
from the settings by one function that every composition root calls (the API's lifespan,
`ownership worker`, the demo, the tests).

Jobs run in one process (APScheduler does not share its job store between schedulers):
`ownership worker`, or `ownership serve --jobs` with one worker, or the demo. They dispatch
accepted notifications, sweep what outlived its TTL, send the webhook outbox, and forget the
webhook events and notifications past their retentions; with the simulators, a pump hands their
events to the service.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from delivery.channels.accounts import AccountDirectory
from delivery.channels.pump import SimulatorPump
from delivery.channels.wiring import Channels, build_channels
from delivery.clock import Clock, SystemClock
from delivery.events import InboundEvent
from delivery.notify import NotifyService
from delivery.overlay import LiveOverlay, snapshot_time
from delivery.scheduler import (
    NIGHTLY_SCORE,
    NOTIFY_FORGET,
    build_scheduler,
    schedule_daily,
    schedule_every,
    schedule_notification_forgetting,
    schedule_webhook_dispatch,
    schedule_webhook_forgetting,
    unschedule,
)
from delivery.templates import ApprovedTemplates, TemplateDesk
from delivery.webhooks.bootstrap import build_webhook_dispatcher
from delivery.webhooks.dispatcher import WebhookDispatcher, WebhookSender
from delivery.webhooks.outbox import OutboxWebhooks
from ownership.channels import SOCIAL_CHANNELS, Channel
from ownership.codes import CodeSmsLimit
from ownership.policy import Policy
from pipelines.reference import load_countries, load_served_prices
from pipelines.settings import RETENTION_OFF, Settings
from pipelines.snapshot import Snapshot
from store.database import (
    NIGHTLY_LOCK,
    SIMULATORS_LOCK,
    StoreLockHeldError,
    held_alone_on_store,
)
from store.lock_watch import warn_lost
from store.secrets import SecretCipher, load_cipher

log = logging.getLogger(__name__)
NOTIFY_DISPATCH = "notifications.dispatch"
NOTIFY_SWEEP = "notifications.sweep"


class _Forward:
    """The channels report to the service, which needs the channels: this closes the loop."""

    def __init__(self) -> None:
        self.target: NotifyService | None = None

    def handle(self, event: InboundEvent) -> None:
        if self.target is not None:
            self.target.handle(event)


@dataclass
class NotifyRuntime:
    service: NotifyService
    channels: Channels
    dispatcher: WebhookDispatcher
    scheduler: BackgroundScheduler | None = None
    pump: SimulatorPump | None = None
    jobs: list[str] = field(default_factory=list)
    held: ExitStack = field(default_factory=ExitStack)  # the simulators' store-wide lock
    # set once the simulators' lock was lost and the jobs stopped: the process must end
    lost: threading.Event = field(default_factory=threading.Event)
    _halting: threading.Lock = field(default_factory=threading.Lock)

    def start_jobs(self, settings: Settings, engine: Engine) -> None:
        """Dispatch, sweep, webhooks, the retentions and (with `score_events_dir`) the nightly
        scoring run on APScheduler; the simulators' pump beside them.

        Raises SimulatorsInUseError when another process runs the jobs on simulators over the
        same store: what a simulator took lives in its memory, and another process's sweeper
        would find none of it, and send by SMS what that simulator still delivers. Should the
        lock be lost later (PostgreSQL's goes with its connection), the jobs stop and `lost`
        is set: the process must end, for another may be running them now."""
        if self.channels.script is not None:  # in force before a stored job runs at once; a
            # file gone bad since the start's check stops the start (SimulatorScriptError)
            self.channels.script.start()
        if self.channels.simulators:
            self.held.enter_context(
                simulators_held(settings.database_url, on_lost=self._halt_for_lost_lock)
            )
        scheduler = build_scheduler(engine)
        scheduler.start(paused=True)  # its stored jobs in sight, none running yet
        service = self.service
        schedule_every(
            scheduler,
            NOTIFY_DISPATCH,
            service.dispatch_due,
            timedelta(seconds=settings.notify_dispatch_seconds),
        )
        schedule_every(
            scheduler, NOTIFY_SWEEP, service.sweep, timedelta(seconds=settings.notify_sweep_seconds)
        )
        schedule_webhook_dispatch(
            scheduler,
            self.dispatcher,
            every=timedelta(seconds=settings.webhook_dispatch_seconds),
            batch_size=settings.webhook_batch_size,
        )
        schedule_webhook_forgetting(
            scheduler, self.dispatcher, keep=timedelta(days=settings.webhook_retention_days)
        )
        if settings.notification_retention_days != RETENTION_OFF:
            schedule_notification_forgetting(
                scheduler, service, keep=timedelta(days=settings.notification_retention_days)
            )
        else:  # turned off: a job stored while it was on would go on forgetting
            unschedule(scheduler, NOTIFY_FORGET)
        if settings.score_events_dir is not None:
            history = settings.score_events_dir
            schedule_daily(
                scheduler,
                NIGHTLY_SCORE,
                partial(score_nightly_by_one_worker, settings, engine, history),
                settings.score_at,
                last_done=partial(_last_published, settings.scores_dir),
            )
        else:  # turned off: a job stored while it was on would be skipped every day, said so
            unschedule(scheduler, NIGHTLY_SCORE)
        with self._halting:  # the lock may be lost meanwhile: then nothing starts
            if self.lost.is_set():
                scheduler.shutdown(wait=False)
                return
            scheduler.resume()
            self.scheduler = scheduler
            if self.channels.simulators:
                self.pump = SimulatorPump(self.channels.simulators, every=0.05)
                self.pump.start()
        log.info("the notify path's jobs are running")

    def _halt_for_lost_lock(self, why: str) -> None:
        """The simulators' lock is lost: another process may run the jobs on simulators of its
        own now. No job starts any more, nor does the pump run; what is in flight ends, and
        `stop_jobs` (the process's own ending) does the rest."""
        with self._halting:
            self.lost.set()
            self.service.stopping.set()
            self.dispatcher.stopping.set()
            if self.scheduler is not None:
                # `stop_jobs` may shut it down meanwhile, the process ending anyway
                with suppress(SchedulerNotRunningError):
                    self.scheduler.pause()
            if self.pump is not None:
                self.pump.stop()
        log.error("%s; another worker may be running: the jobs were stopped", why)

    def stop_jobs(self) -> None:
        """Stop taking new work, let what is in flight end (its outcome recorded), then stop."""
        self.service.stopping.set()
        self.dispatcher.stopping.set()
        if self.pump is not None:
            self.pump.stop()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        self.held.close()


def build_notify_runtime(
    settings: Settings,
    engine: Engine,
    clock: Clock,
    snapshots: Callable[[], Snapshot],
    desk: TemplateDesk,
    *,
    history_dir: Path | None = None,
    webhook_sender: WebhookSender | None = None,
    cipher: SecretCipher | None = None,
) -> NotifyRuntime:
    """The service over the store, the channels (simulators unless a gateway URL is set, with
    the accounts of `history_dir`), the template desk and the webhook outbox."""
    forward = _Forward()
    cipher = cipher or load_cipher(settings.secret_key_text(), settings.secret_key_file)
    accounts_dir = history_dir or settings.history_dir
    accounts = (
        AccountDirectory.read_history(accounts_dir, settings.default_region)
        if accounts_dir
        else None
    )
    channels = build_channels(settings, clock=clock, inbound=forward, accounts=accounts)
    policy = Policy(freshness=timedelta(days=settings.freshness_days))
    countries = load_countries()
    prices = load_served_prices(countries)  # a country without a price stops the start
    overlay = LiveOverlay(
        engine,
        lambda: clock.now().astimezone(UTC).replace(tzinfo=None),
        lambda: snapshot_time(snapshots),
        refresh_every=settings.overlay_refresh_seconds,
        freshness=policy.freshness,
    )
    service = NotifyService(
        engine,
        clock,
        snapshots,
        {network: channels.social(network) for network in SOCIAL_CHANNELS},
        channels.sms,
        ApprovedTemplates(desk),
        countries,
        prices,
        policy,
        OutboxWebhooks(),
        sms_report_timeout=timedelta(seconds=settings.sms_report_timeout_seconds),
        sms_validity=timedelta(seconds=settings.sms_validity_seconds),
        overlay=overlay,
        dispatch_concurrency=_dispatch_concurrency(settings),
        code_cipher=cipher,
        code_sms_limit=CodeSmsLimit(
            settings.code_sms_per_number, timedelta(minutes=settings.code_sms_window_minutes)
        ),
    )
    forward.target = service
    # a client checks a signature's timestamp against real time, whatever our clock's speed
    signing = None if isinstance(clock, SystemClock) else SystemClock()
    dispatcher = build_webhook_dispatcher(settings, engine, cipher, clock, webhook_sender, signing)
    return NotifyRuntime(service, channels, dispatcher)


def _dispatch_concurrency(settings: Settings) -> int:
    """How many notifications a worker carries at once: threads help while calls wait for a
    gateway's answer; the simulators answer at once, where threads only contend for the store
    (bench/bench_notify.py)."""
    if settings.notify_dispatch_concurrency is not None:
        return settings.notify_dispatch_concurrency
    return 8 if any(settings.gateway_urls.get(channel.value) for channel in Channel) else 1


class SimulatorsInUseError(Exception):
    def __str__(self) -> str:
        return (
            "another process (`ownership worker` or `ownership serve --jobs`) runs the notify "
            "path's jobs on the channel simulators over this store; the simulators keep what "
            "they took in memory, so one process a store runs them: stop that one, or give "
            "every channel a gateway (OWNERSHIP_GATEWAY_URLS) to run several workers"
        )


def uses_simulators(settings: Settings) -> bool:
    """Whether some channel runs on its simulator: it has no gateway URL."""
    return any(not settings.gateway_urls.get(channel.value) for channel in Channel)


class SimulatorsLockLostError(Exception):
    """The simulators' lock was lost while the jobs ran, and the jobs were stopped."""


# the exit code of a process whose jobs stopped for a lost simulators lock: a failure, so that
# a supervisor starts it again (and the new one is refused while another runs the jobs)
LOCK_LOST_EXIT = 1


@contextmanager
def simulators_held(
    database_url: str, on_lost: Callable[[str], None] = warn_lost
) -> Iterator[None]:
    """Hold the store's simulators lock, or raise SimulatorsInUseError; `on_lost` is told if
    the lock is lost while the block runs."""
    try:
        with held_alone_on_store(database_url, SIMULATORS_LOCK, "simulators.lock", on_lost):
            yield
    except StoreLockHeldError as error:
        raise SimulatorsInUseError from error


def score_nightly_by_one_worker(settings: Settings, engine: Engine, history: Path) -> None:
    """The nightly run, by one worker of the store: the workers share their stored jobs, and
    two may take one run at the same moment; the second leaves it to the first."""
    # the batch's engine (DuckDB) is loaded by the run, not by every process that serves
    from pipelines.nightly import score_nightly

    try:
        # a lock lost meanwhile is only warned of: the run publishes its files at once or not
        # at all, and another worker's run beside it would publish the same night's scores
        with held_alone_on_store(
            settings.database_url, NIGHTLY_LOCK, "nightly.lock", _warn_nightly_lock_lost
        ):
            score_nightly(settings, engine, history)
    except StoreLockHeldError:
        log.info("nightly run: another worker of this store is running it; left to that one")


def _warn_nightly_lock_lost(why: str) -> None:
    log.warning("nightly run: %s; the run goes on, its publishing all or nothing", why)


def _last_published(scores_dir: Path) -> datetime | None:
    """When the scores published in `scores_dir` were made (their manifest's `run_at`), or
    None when there are none, or they cannot be read."""
    from pipelines.publish import MANIFEST_FILE

    try:
        manifest = json.loads((scores_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        return datetime.fromisoformat(manifest["run_at"]).astimezone(UTC)
    except (OSError, ValueError, KeyError, TypeError):
        return None
