"""The nightly scoring run (DESIGN §8), a job of `ownership worker`: the day's re-verification
results go into the history as `verifications` events, then the history is scored and the new
scores and snapshot are published, which every API worker picks up without a restart.

A run that fails publishes nothing (`pipelines.scoring` stages everything and renames it only
at the end), says why in the log at ERROR, and the last good scores go on being served; the
next night tries again. The results exported go in files of their own, named by the moment of
the export, so a run that failed after exporting loses nothing either.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from delivery.export import export_verifications
from pipelines.scoring import ScoreRequest, ScoreResult, score
from pipelines.settings import Settings

log = logging.getLogger(__name__)

# the moment in the name of an export's file (delivery.export), to export only what is newer
EXPORT_OVERLAP = timedelta(days=2)
EXPORTED_AT = re.compile(r"notify-(\d{8}T\d{12})(?:-\d+)?\.(?:parquet|csv)")


def score_nightly(settings: Settings, engine: Engine, history: Path) -> ScoreResult | None:
    """Export the results recorded since the last export into `history`, then score it into
    `settings.scores_dir`; the run's result, or None when it failed (logged)."""
    started = time.perf_counter()
    try:
        last = last_export(history)
        # from a while before the last export: a result recorded late (a TTL's no_answer) is
        # not missed, and one exported twice counts once in the rules
        since = None if last is None else last - EXPORT_OVERLAP
        written = export_verifications(engine, history, since=since)
        log.info("nightly run: verification results since %s exported to %s", since, written)
        result = score(
            ScoreRequest(
                events_dir=history,
                out_dir=settings.scores_dir,
                rules=settings.rules(),
                max_reject_share=settings.max_reject_share,
                memory_limit=settings.memory_limit,
                threads=settings.threads,
            )
        )
    except Exception as error:  # a job's failure must not stop the scheduler: say it, go on
        log.error("nightly run failed; the last published scores stay served: %s", error)
        return None
    statuses = result.manifest.get("statuses", {})
    log.info(
        "nightly run published %s in %.1f s: %s",
        settings.scores_dir,
        time.perf_counter() - started,
        statuses,
    )
    return result


def last_export(history: Path) -> datetime | None:
    """When the newest export into `history` was made, from its file's name; None for none."""
    folder = history / "verifications"
    moments = [
        datetime.strptime(found.group(1), "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
        for path in (folder.iterdir() if folder.is_dir() else ())
        if (found := EXPORTED_AT.fullmatch(path.name))
    ]
    return max(moments, default=None)
