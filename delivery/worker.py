"""`ownership worker`: the notify path's jobs in a process of their own (DESIGN §8).

It dispatches accepted notifications, sweeps what outlived its TTL into SMS, sends the webhook
outbox, and, with the channel simulators, pumps their events into the notify service. Run one
per store; the API (`ownership serve --workers N`) only accepts and answers.
"""

from __future__ import annotations

import logging
import signal
import threading
from functools import partial
from types import FrameType

from api.serving import SnapshotSource
from delivery.clock import build_clock
from delivery.runtime import SimulatorsLockLostError, build_notify_runtime
from delivery.templates import build_template_desk
from pipelines.publish import SNAPSHOT_FILE
from pipelines.settings import Settings
from store.database import make_engine, session_factory, upgrade

log = logging.getLogger(__name__)
SIGNAL_CHECK_SECONDS = 0.5


def run_worker(settings: Settings, stop: threading.Event | None = None) -> None:
    """Run the jobs until `stop` is set, or SIGINT or SIGTERM arrives.

    Raises SimulatorsLockLostError, once the jobs have stopped, when the store's simulators
    lock was lost meanwhile: another worker may be running them now."""
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    snapshots = SnapshotSource(settings.scores_dir / SNAPSHOT_FILE, settings.snapshot_check_seconds)
    clock = build_clock(settings)
    desk = build_template_desk(settings, session_factory(engine), clock=clock)
    runtime = build_notify_runtime(settings, engine, clock, snapshots.current, desk)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for received in (signal.SIGINT, signal.SIGTERM):
            signal.signal(received, partial(_stop_or_force, stop))
    runtime.start_jobs(settings, engine)
    try:
        # waking now and then: a signal the kernel hands to another thread (a scoring run's
        # engine threads, say) is run by the main thread only once it runs Python again
        while not stop.wait(SIGNAL_CHECK_SECONDS) and not runtime.lost.is_set():
            pass
    finally:
        runtime.stop_jobs()
        engine.dispose()
    if runtime.lost.is_set():
        raise SimulatorsLockLostError
    log.info("stopped: the work in flight has ended")


def _stop_or_force(stop: threading.Event, received: int, _frame: FrameType | None) -> None:
    """The first signal stops the worker once the work in flight has ended; a second one
    (Ctrl-C again) ends it now, as the signal would by default. What was in flight is
    finished by another worker once its claim or lease runs out."""
    if not stop.is_set():
        log.info("stopping once the work in flight has ended; signal again to stop now")
        stop.set()
        return
    signal.signal(received, signal.SIG_DFL)
    signal.raise_signal(received)
