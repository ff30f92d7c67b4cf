"""`ownership worker` runs the notify path's jobs: an accepted notification is carried."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from delivery import records
from delivery.clock import build_clock
from delivery.notify import NotifyRequest
from delivery.runtime import LOCK_LOST_EXIT, SimulatorsLockLostError, build_notify_runtime
from delivery.scheduler import NIGHTLY_SCORE, NOTIFY_FORGET, WEBHOOK_DISPATCH, StoppingScheduler
from delivery.templates import build_template_desk
from delivery.worker import run_worker
from ownership.moderation import Decision, TemplateDraft
from pipelines.settings import Settings, load_settings
from pipelines.snapshot import Snapshot
from store import lock_watch
from store.clients import register_client
from store.database import SIMULATORS_LOCK, make_engine, session_factory, upgrade
from store.secrets import load_cipher
from tests.api.service import RECYCLED, crafted_history, score_history
from tests.conftest import fresh_postgres_database
from tests.integration.test_crash_recovery import free_port
from tests.store.test_store_locks import cut_the_connection_holding, waiting_for_the_lock


def test_the_worker_dispatches_what_the_api_accepted_and_stops_cleanly(tmp_path: Path) -> None:
    scores = score_history(crafted_history(), tmp_path)
    key = Fernet.generate_key().decode()
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'ownership.db'}",
        scores_dir=scores,
        history_dir=tmp_path / "events",
        secret_key=key,
        notify_dispatch_seconds=0.1,
    )
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    cipher = load_cipher(key, settings.secret_key_file)
    with sessions.begin() as session:
        client = register_client(session, "bank", ["127.0.0.1/32"], cipher)
    desk = build_template_desk(settings, sessions)
    template = desk.submit(
        client.key, TemplateDraft.of("Ваш заказ #order# готов", "order_status", {"order": "1"})
    )
    desk.decide(template.id, Decision.APPROVE, note=None, by="moderator")
    snapshot = Snapshot(scores / "snapshot.bin")
    api_side = build_notify_runtime(settings, engine, _Now(), lambda: snapshot, desk, cipher=cipher)
    accepted = api_side.service.accept(
        client.key,
        NotifyRequest(
            "w-1",
            RECYCLED,
            template.id,
            {"order": "7"},
            "order",
            datetime.now(UTC),
            timedelta(hours=1),
        ),
    )

    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(settings, stop))
    worker.start()
    status: str | None = "accepted"
    deadline = time.monotonic() + 15
    while status == "accepted" and time.monotonic() < deadline:
        time.sleep(0.1)
        with engine.connect() as connection:
            status = connection.scalar(
                select(records.notifications.c.status).where(
                    records.notifications.c.id == accepted.answer["id"]
                )
            )
    stop.set()
    worker.join(timeout=15)

    assert status in ("sms_sent", "sms_delivered", "sms_failed")  # an owner_changed number
    assert not worker.is_alive()


class _Now:
    def now(self) -> datetime:
        return datetime.now(UTC)


STORED_JOBS = "select id, next_run_time from apscheduler_jobs"


def stored_jobs(settings: Settings, until: Callable[[set[str]], bool]) -> dict[str, float | None]:
    """The jobs stored while the worker runs, with their next run times, once `until` holds of
    their ids (or after 15 s, when it never does)."""
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(settings, stop))
    worker.start()
    engine = make_engine(settings.database_url)
    stored: dict[str, float | None] = {}
    try:
        deadline = time.monotonic() + 15
        while not until(set(stored)) and time.monotonic() < deadline:
            time.sleep(0.1)
            with engine.connect() as connection, suppress(OperationalError):  # not made yet
                rows = connection.execute(text(STORED_JOBS)).all()
                stored = {job_id: next_run for job_id, next_run in rows}
        return stored
    finally:
        stop.set()
        worker.join(timeout=15)
        engine.dispose()


def scoring_nightly(folder: Path, **settings: Any) -> Settings:
    """A worker's settings on a store in `folder`, scoring a history there every night."""
    return load_settings(
        database_url=f"sqlite:///{folder / 'ownership.db'}",
        scores_dir=score_history(crafted_history(), folder),
        score_events_dir=folder / "events",
        secret_key=Fernet.generate_key().decode(),
        **settings,
    )


def test_a_worker_with_a_history_to_score_schedules_the_nightly_run_at_its_hour(
    tmp_path: Path,
) -> None:
    settings = scoring_nightly(tmp_path, score_at="03:30")
    jobs = stored_jobs(settings, until=lambda ids: NIGHTLY_SCORE in ids)

    nightly = jobs.get(NIGHTLY_SCORE)
    assert nightly is not None
    at = datetime.fromtimestamp(nightly, UTC)
    assert (at.hour, at.minute) == (3, 30)
    assert timedelta(0) < at - datetime.now(UTC) <= timedelta(days=1)


def test_a_worker_whose_nightly_run_was_turned_off_removes_its_stored_job(
    tmp_path: Path,
) -> None:
    # the workers' jobs are stored: left there, the run would be skipped every day, said so
    settings = scoring_nightly(tmp_path)
    assert NIGHTLY_SCORE in stored_jobs(settings, until=lambda jobs: NIGHTLY_SCORE in jobs)

    turned_off = settings.model_copy(update={"score_events_dir": None})
    without = stored_jobs(turned_off, until=lambda jobs: bool(jobs) and NIGHTLY_SCORE not in jobs)
    assert NIGHTLY_SCORE not in without
    assert WEBHOOK_DISPATCH in without


def test_a_worker_forgets_the_notifications_past_their_retention_every_hour(
    tmp_path: Path,
) -> None:
    settings = scoring_nightly(tmp_path)
    jobs = stored_jobs(settings, until=lambda ids: NOTIFY_FORGET in ids)

    forgetting = jobs.get(NOTIFY_FORGET)
    assert forgetting is not None
    assert datetime.fromtimestamp(forgetting, UTC) - datetime.now(UTC) <= timedelta(hours=1)


# the worker in a process of its own, with SIGINT blocked in its main thread: the kernel must
# hand the signal to another thread, as it may once a scoring run's engine threads exist
WORKER_WITH_SIGINT_ELSEWHERE = """
import signal, sys, threading
from delivery.worker import run_worker
from pipelines.settings import Settings, load_settings
threading.Thread(target=threading.Event().wait, daemon=True).start()  # SIGINT not blocked
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
print("running", flush=True)
run_worker(load_settings())
"""


def test_the_worker_stops_on_sigint_whichever_thread_the_kernel_gives_it_to(
    tmp_path: Path,
) -> None:
    environment = {
        **os.environ,
        "OWNERSHIP_DATABASE_URL": f"sqlite:///{tmp_path / 'ownership.db'}",
        "OWNERSHIP_SCORES_DIR": str(tmp_path / "scores"),
        "OWNERSHIP_SECRET_KEY": Fernet.generate_key().decode(),
    }
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER_WITH_SIGINT_ELSEWHERE],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "running"
        time.sleep(2)  # its jobs started
        worker.send_signal(signal.SIGINT)
        assert worker.wait(timeout=15) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_a_worker_back_after_a_nightly_run_that_never_ended_scores_at_once(
    tmp_path: Path,
) -> None:
    # the worker was killed during the run an hour ago: APScheduler had already moved the job
    # to tomorrow, and no scores were published since
    events = crafted_history().write(tmp_path / "events")
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'ownership.db'}",
        scores_dir=tmp_path / "scores",
        score_events_dir=events,
        score_at=an_hour_ago.strftime("%H:%M"),
        secret_key=Fernet.generate_key().decode(),
    )
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(settings, stop))
    worker.start()
    manifest = settings.scores_dir / "manifest.json"
    try:
        deadline = time.monotonic() + 60
        while not manifest.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        worker.join(timeout=60)

    assert manifest.exists()


def test_a_second_process_running_the_jobs_on_the_simulators_of_one_store_is_refused(
    tmp_path: Path,
) -> None:
    # a simulator's messages live in its process: another's sweeper would find none of them
    # and send by SMS what the first one still delivers
    key = Fernet.generate_key().decode()
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'ownership.db'}",
        scores_dir=tmp_path / "scores",
        secret_key=key,
    )
    environment = {
        **os.environ,
        "OWNERSHIP_DATABASE_URL": settings.database_url,
        "OWNERSHIP_SCORES_DIR": str(settings.scores_dir),
        "OWNERSHIP_SECRET_KEY": key,
    }
    stop = threading.Event()
    first = threading.Thread(target=run_worker, args=(settings, stop))
    first.start()
    try:
        wait_until_jobs_run(settings)
        second_worker = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "worker"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        port = free_port()
        second_api = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "serve", "--jobs", "--port", str(port)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        # a demo serves from the store in its folder, which it would replace first
        demo = [sys.executable, "-m", "pipelines.cli", "demo", "--dir", str(tmp_path)]
        second_demo = subprocess.run(
            [*demo, "--phones", "100", "--port", str(port)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        store_kept = (tmp_path / "ownership.db").exists()
    finally:
        stop.set()
        first.join(timeout=30)

    assert store_kept
    for second in (second_worker, second_api, second_demo):
        assert second.returncode == 2, second.stderr
        assert "runs the notify path's jobs on the channel simulators" in second.stderr
        assert "Traceback" not in second.stderr


def wait_until_jobs_run(settings: Settings) -> None:
    """Until the worker's scheduler has stored its jobs."""
    engine = make_engine(settings.database_url)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            # the table not made yet: SQLite's error, or PostgreSQL's
            with engine.connect() as connection, suppress(OperationalError, ProgrammingError):
                if connection.execute(text("select count(*) from apscheduler_jobs")).scalar():
                    return
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise AssertionError("the worker did not start its jobs")


JOBS_RUNNING = "the notify path's jobs are running"


def rest_of(process: subprocess.Popen[str]) -> str:
    """What `process` writes to stderr until it ends, after `read_until`: read from the same
    file, whose buffer may hold lines already (`communicate` reads past that buffer)."""
    assert process.stderr is not None
    process.wait(timeout=15)
    return process.stderr.read()


def read_until(process: subprocess.Popen[str], line: str, timeout: float = 60) -> str:
    """What `process` wrote to stderr up to the first line holding `line`."""
    read: list[str] = []

    def reader() -> None:
        assert process.stderr is not None
        for written in process.stderr:
            read.append(written)
            if line in written:
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    return "".join(read)


def jobs_log(command: list[str], tmp_path: Path) -> str:
    """What `ownership COMMAND` running the jobs logs until its jobs have run a few dozen times
    and it is stopped."""
    environment = {
        **os.environ,
        "OWNERSHIP_DATABASE_URL": f"sqlite:///{tmp_path / 'ownership.db'}",
        "OWNERSHIP_SCORES_DIR": str(tmp_path / "scores"),
        "OWNERSHIP_SECRET_KEY": Fernet.generate_key().decode(),
        "OWNERSHIP_NOTIFY_DISPATCH_SECONDS": "0.1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", *command],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        log = read_until(process, JOBS_RUNNING)
        time.sleep(2)  # its jobs ran a few dozen times
        process.send_signal(signal.SIGINT)
        return log + rest_of(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_workers_log_tells_its_own_news_not_each_run_of_each_job(tmp_path: Path) -> None:
    # APScheduler tells of every run at INFO, several times a second: the nightly run's outcome
    # would be buried under them
    log = jobs_log(["worker"], tmp_path)

    assert f"INFO delivery.runtime {JOBS_RUNNING}" in log
    assert "INFO apscheduler" not in log
    assert log.rstrip().endswith("INFO delivery.worker stopped: the work in flight has ended")


def test_the_api_running_the_jobs_tells_their_news_beside_its_own_lines(tmp_path: Path) -> None:
    # uvicorn sets up only its own loggers: without more, the nightly run's outcome is lost
    log = jobs_log(["serve", "--jobs", "--port", str(free_port())], tmp_path)

    assert f"INFO delivery.runtime {JOBS_RUNNING}" in log
    assert "INFO apscheduler" not in log
    assert log.count("Application startup complete") == 1  # uvicorn's, once and as before


def test_a_worker_whose_retention_was_turned_off_removes_its_stored_job(tmp_path: Path) -> None:
    settings = scoring_nightly(tmp_path)
    assert NOTIFY_FORGET in stored_jobs(settings, until=lambda jobs: NOTIFY_FORGET in jobs)

    turned_off = settings.model_copy(update={"notification_retention_days": 0})
    without = stored_jobs(turned_off, until=lambda jobs: bool(jobs) and NOTIFY_FORGET not in jobs)
    assert NOTIFY_FORGET not in without
    assert WEBHOOK_DISPATCH in without


# PostgreSQL's lock goes with its connection (PostgreSQL restarted, a proxy cutting it): a worker
# whose lock another process took meanwhile must stop, for that one may run the jobs now


def test_a_worker_whose_simulators_lock_another_took_stops_its_jobs_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(lock_watch, "LOCK_CHECK_SECONDS", 0.1)
    stop = threading.Event()
    raised: list[BaseException] = []

    def worker_until_it_ends(settings: Settings) -> None:
        try:
            run_worker(settings, stop)
        except BaseException as error:
            raised.append(error)

    with fresh_postgres_database() as url:
        key = Fernet.generate_key().decode()
        settings = load_settings(database_url=url, scores_dir=tmp_path / "scores", secret_key=key)
        worker = threading.Thread(target=worker_until_it_ends, args=(settings,))
        worker.start()
        try:
            wait_until_jobs_run(settings)
            with waiting_for_the_lock(url, SIMULATORS_LOCK):
                cut_the_connection_holding(url, SIMULATORS_LOCK)
                worker.join(timeout=15)
                ended_by_itself = not worker.is_alive()
        finally:
            stop.set()
            worker.join(timeout=15)

    assert ended_by_itself
    assert [type(error) for error in raised] == [SimulatorsLockLostError]
    assert LOCK_LOST_LINE in caplog.text


LOCK_LOST_LINE = (
    "the store's simulators lock was lost with its connection, and another process took it; "
    "another worker may be running: the jobs were stopped"
)
# a command running the jobs, its lock checked every tenth of a second
CHECKING_ITS_LOCK_OFTEN = """
import sys
from store import lock_watch
lock_watch.LOCK_CHECK_SECONDS = 0.1
from pipelines.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", [["worker"], ["serve", "--jobs"]])
def test_a_command_whose_simulators_lock_another_took_ends_in_failure_saying_so(
    tmp_path: Path, command: list[str]
) -> None:
    # a supervisor starts it again, and the new one is refused while the other runs the jobs
    if command[0] == "serve":
        command = [*command, "--port", str(free_port())]
    with fresh_postgres_database() as url:
        environment = {
            **os.environ,
            "OWNERSHIP_DATABASE_URL": url,
            "OWNERSHIP_SCORES_DIR": str(tmp_path / "scores"),
            "OWNERSHIP_SECRET_KEY": Fernet.generate_key().decode(),
        }
        process = subprocess.Popen(
            [sys.executable, "-c", CHECKING_ITS_LOCK_OFTEN, *command],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert JOBS_RUNNING in read_until(process, JOBS_RUNNING)
            with waiting_for_the_lock(url, SIMULATORS_LOCK):
                cut_the_connection_holding(url, SIMULATORS_LOCK)
                log = rest_of(process)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

    assert process.returncode == LOCK_LOST_EXIT, log
    assert LOCK_LOST_LINE in log
    assert "Traceback" not in log


def test_a_script_is_in_force_before_any_stored_job_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a restarted worker's overdue dispatch runs as the scheduler resumes: what it sends must
    # already follow the script, whose outcome is fixed at sending
    script = tmp_path / "script.csv"
    script.write_text(f"phone,answer,after_seconds\n{RECYCLED},no,60\n", encoding="utf-8")
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'ownership.db'}",
        scores_dir=tmp_path / "scores",
        secret_key=Fernet.generate_key().decode(),
        simulator_script=script,
    )
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    desk = build_template_desk(settings, session_factory(engine))
    runtime = build_notify_runtime(settings, engine, build_clock(settings), no_snapshot, desk)
    follower = runtime.channels.script
    assert follower is not None
    scripted_at_resume: list[list[str]] = []
    resume = StoppingScheduler.resume

    def recorded_resume(scheduler: StoppingScheduler) -> None:
        scripted_at_resume.append(list(follower.script.numbers))
        resume(scheduler)

    monkeypatch.setattr(StoppingScheduler, "resume", recorded_resume)
    runtime.start_jobs(settings, engine)
    runtime.stop_jobs()
    engine.dispose()

    assert scripted_at_resume == [[RECYCLED]]


def no_snapshot() -> Snapshot:
    raise AssertionError("nothing is sent in this test")
