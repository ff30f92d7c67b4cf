"""Running the API: `ownership serve` and the app factory its uvicorn workers import."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from fastapi import FastAPI

from api.app import create_app
from api.observability import mask_phone_numbers_in_logs
from pipelines.settings import Settings, load_settings

METRICS_DIR = Path("var/prometheus")


def app_from_environment() -> FastAPI:
    """The app on the environment's settings: what each uvicorn worker builds."""
    mask_phone_numbers_in_logs()
    return create_app(load_settings())


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    """Serve until interrupted. Workers map one snapshot file and share their metrics."""
    import uvicorn

    from store.database import upgrade

    upgrade(settings.database_url)  # once, before the workers start
    if workers > 1:
        # prometheus_client reads this in every worker; a clean folder per run
        shutil.rmtree(METRICS_DIR, ignore_errors=True)
        METRICS_DIR.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR.resolve())
    uvicorn.run(
        "api.main:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )
