"""The nightly scoring run (DESIGN §8), a job of `ownership worker`: the day's re-verification
results go into the history as `verifications` events, then the history is scored and the new
scores and snapshot are published, which every API worker picks up without a restart.

A run that fails publishes nothing (`pipelines.scoring` stages everything and renames it only
at the end), says why in the log at ERROR, and the last good scores go on being served; the
next night tries again. The results exported go in files of their own, named by the moment the
store was read, so a run that failed after exporting loses nothing either.

Results are exported by when the store took them, not by when they were answered: a report can
come days after its answer, and must still reach the batch. The newest nightly file's name is
the watermark (`delivery.export.nightly_watermark`); an operator's own exports leave it alone.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from delivery.export import export_recorded, nightly_watermark
from pipelines.scoring import ScoreRequest, ScoreResult, score
from pipelines.settings import Settings

log = logging.getLogger(__name__)

# how far before the watermark each export reads again: a result whose transaction committed
# after the last export read the store, or stamped by a host whose clock lags, is not missed.
# One exported twice counts once: the rules take a number's first and last times, never counts
RECORDED_OVERLAP = timedelta(hours=1)


def score_nightly(settings: Settings, engine: Engine, history: Path) -> ScoreResult | None:
    """Export the results recorded since the last nightly export into `history`, then score it
    into `settings.scores_dir`; the run's result, or None when it failed (logged)."""
    started = time.perf_counter()
    try:
        last = nightly_watermark(history)
        since = None if last is None else last - RECORDED_OVERLAP
        written = export_recorded(engine, history, recorded_since=since)
        recorded = (
            "every verification result"
            if since is None
            else (f"the verification results recorded since {since:%Y-%m-%dT%H:%M:%SZ}")
        )
        if written is None:
            after = "" if since is None else f" since {since:%Y-%m-%dT%H:%M:%SZ}"
            log.info("nightly run: no verification result recorded%s; nothing exported", after)
        else:
            log.info("nightly run: %s exported to %s", recorded, written)
        result = score(
            ScoreRequest(
                events_dir=history,
                out_dir=settings.scores_dir,
                rules=settings.rules(),
                max_reject_share=settings.max_reject_share,
                memory_limit=settings.memory_limit,
                threads=settings.threads,
                default_region=settings.default_region,
                engine=settings.score_engine,
            )
        )
    except Exception as error:  # a job's failure must not stop the scheduler: say it, go on
        log.error("nightly run failed; the last published scores stay served: %s", error)
        return None
    unread = result.manifest.get("ignored_folders") or []
    if unread:  # a misspelt kind's folder: its rows were left out
        log.warning("nightly run: %s in %s not read, as no kind is so named", unread, history)
    statuses = result.manifest.get("statuses", {})
    log.info(
        "nightly run published %s in %.1f s: %s",
        settings.scores_dir,
        time.perf_counter() - started,
        statuses,
    )
    return result
