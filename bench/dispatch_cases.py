"""The notify path's dispatch, case by case, for bench_notify.py's `--parts cases`.

Each case is a store of --accepted notifications, accepted through `NotifyService.accept` (so
the policy decides them as it decides a request's) on the numbers of a generated and scored
history, and dispatched by `NotifyService.dispatch_due` on the channel simulators, which know
that history's accounts (as `simulate-day` and the demo's do). The clock stands at the scores'
`as_of`, where the snapshot's active accounts are the simulators' active ones.

  - social: regular notifications to verified numbers: delivered in VK or OK;
  - prompt: sensitive ones to verified numbers on a proof older than F: the Yes/No prompt;
  - sms_code: the same, `reverify: sms_code`: the code's SMS, then the prompt that asks for it;
  - policy_sms: regular ones to owner_changed numbers: the policy's SMS;
  - refused_sms: the older measurement (`--parts dispatch`), a synthetic snapshot and
    simulators that know no account: each goes by SMS after the network named refuses.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from bench_webhooks import database
from cryptography.fernet import Fernet
from sqlalchemy import Engine, event, func, select

from delivery import records
from delivery.clock import VirtualClock
from delivery.notify import NotifyRequest
from delivery.runtime import NotifyRuntime, build_notify_runtime
from delivery.templates import TemplateDesk, build_template_desk
from ownership.codes import ReverifyMethod
from ownership.moderation import Category, Decision, TemplateDraft
from ownership.policy import PolicyRow, policy_row
from pipelines.settings import load_settings
from pipelines.snapshot import Snapshot
from store.clients import register_client
from store.database import make_engine, session_factory, upgrade
from store.secrets import SecretCipher

ORDER_READY = TemplateDraft.of(
    "Ваш заказ #order# готов к выдаче", Category.ORDER_STATUS, {"order": "A-17"}
)
LOGIN_CODE = TemplateDraft.of("Код для входа: #code#", Category.OTP, {"code": "4821"})


@dataclass(frozen=True)
class Case:
    rows: tuple[PolicyRow, ...]  # the policy rows whose numbers it sends to
    sensitive: bool
    reverify: ReverifyMethod
    expected: str  # the status every notification is in once dispatched


CASES: dict[str, Case] = {
    "social": Case(
        (PolicyRow.VERIFIED_FRESH, PolicyRow.VERIFIED_OLDER_PROOF),
        False,
        ReverifyMethod.PROMPT,
        "sent",
    ),
    "prompt": Case(
        (PolicyRow.VERIFIED_OLDER_PROOF,), True, ReverifyMethod.PROMPT, "reverify_pending"
    ),
    "sms_code": Case(
        (PolicyRow.VERIFIED_OLDER_PROOF,), True, ReverifyMethod.SMS_CODE, "reverify_pending"
    ),
    "policy_sms": Case((PolicyRow.OWNER_CHANGED,), False, ReverifyMethod.PROMPT, "sms_sent"),
}
REFUSED = "refused_sms"  # bench_notify.dispatch_time's path, beside the cases
CASE_NAMES = (*CASES, REFUSED)


def scored_history(work: Path, numbers: int) -> tuple[Path, Path]:
    """A history of `numbers` numbers (`ownership synth`, seed 1) and its scores as of its
    end (`ownership score`), made once and kept for later runs."""
    history = work / f"history-{numbers:.0e}".replace("+", "")
    scores = work / f"scored-{numbers:.0e}".replace("+", "")
    cli = [sys.executable, "-m", "pipelines.cli"]
    if not (history / "truth" / "meta.json").exists():
        out = ["--out", str(history)]
        subprocess.run([*cli, "synth", "--phones", str(numbers), *out], check=True)
    if not (scores / "snapshot.bin").exists():
        end = json.loads((history / "truth" / "meta.json").read_text())["end"]
        run = ["--events", str(history), "--out", str(scores), "--as-of", end]
        subprocess.run([*cli, "score", *run], check=True)
    return history, scores


def phones_by_row(snapshot: Snapshot, freshness: timedelta) -> dict[PolicyRow, list[str]]:
    """The snapshot's numbers by the policy row a notification to them falls in."""
    now = snapshot_start(snapshot).replace(tzinfo=None)
    rows: dict[PolicyRow, list[str]] = {}
    for key in np.asarray(snapshot.columns["phone"]).tolist():
        record = snapshot.lookup(key)
        if record is None:
            continue
        row = policy_row(
            record.verdict(), record.channels, mobile_only=False, now=now, freshness=freshness
        )
        rows.setdefault(row, []).append(f"+{key}")
    return rows


def snapshot_start(snapshot: Snapshot) -> datetime:
    if snapshot.as_of is None:
        raise SystemExit("the snapshot has no as_of")
    return snapshot.as_of.replace(tzinfo=UTC)


class Tally:
    """Gateway calls and the store's transactions and statements, counted from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def add(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    @contextmanager
    def store(self, engine: Engine) -> Iterator[None]:
        """Count the transactions begun, those committed, and the statements, meanwhile."""
        listeners = {
            "begin": lambda *_: self.add("transactions"),
            "commit": lambda *_: self.add("commits"),
            "before_cursor_execute": lambda *_: self.add("statements"),
        }
        for name, listener in listeners.items():
            event.listen(engine, name, listener)
        try:
            yield
        finally:
            for name, listener in listeners.items():
                event.remove(engine, name, listener)

    def per(self, count: int) -> dict[str, float]:
        names = ("calls", "transactions", "commits", "statements")
        return {f"{name}_per": round(self.counts[name] / count, 2) for name in names}


def statuses(engine: Engine) -> dict[str, int]:
    table = records.notifications
    with engine.connect() as connection:
        counted = connection.execute(
            select(table.c.status, func.count()).group_by(table.c.status)
        ).all()
    return {str(status): int(count) for status, count in counted}


@contextmanager
def accepted_store(
    kind: str, history: Path, scores: Path, case: Case, phones: list[str], count: int
) -> Iterator[tuple[Engine, NotifyRuntime]]:
    """A store of `kind` holding `count` notifications of `case`, accepted by the service at
    the snapshot's as_of, and a notify runtime on it whose simulators know the history's
    accounts."""
    with database(kind) as url:
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        cipher = SecretCipher([Fernet.generate_key().decode()])
        snapshot = Snapshot(scores / "snapshot.bin")
        clock = VirtualClock(snapshot_start(snapshot))
        with sessions.begin() as session:
            client = register_client(session, "bench", ["127.0.0.1/32"], cipher, clock.now)
        settings = load_settings(database_url=url)
        desk = build_template_desk(settings, sessions, clock=clock)
        template = _approved(desk, client.key, case)
        runtime = build_notify_runtime(
            settings, engine, clock, lambda: snapshot, desk, history_dir=history, cipher=cipher
        )
        try:
            requests = [_request(case, template, phones, clock, i) for i in range(count)]
            with ThreadPoolExecutor(16) as pool:  # so that the batch writer groups them
                list(pool.map(partial(runtime.service.accept, client.key), requests))
            yield engine, runtime
        finally:
            engine.dispose()


def _approved(desk: TemplateDesk, client_key: str, case: Case) -> str:
    """The case's template (a login code for sensitive ones), approved."""
    draft = LOGIN_CODE if case.sensitive else ORDER_READY
    submitted = desk.submit(client_key, draft).id
    return desk.decide(submitted, Decision.APPROVE, note=None, by="bench").id


def _request(
    case: Case, template: str, phones: list[str], clock: VirtualClock, index: int
) -> NotifyRequest:
    params = {"code": f"{index % 10_000:04d}"} if case.sensitive else {"order": f"A-{index}"}
    return NotifyRequest(
        request_id=f"r-{index}",
        phone=phones[index % len(phones)],
        template_id=template,
        params=params,
        action_type="login" if case.sensitive else "order",
        action_at=clock.now() - timedelta(minutes=1),
        ttl=timedelta(hours=1),
        sensitive=case.sensitive,
        reverify=case.reverify,
    )


def settle(engine: Engine, kind: str) -> None:
    """On PostgreSQL, the table as a live one would be (planner statistics), and the set-up's
    writes flushed, so that none of it lands in the timing."""
    if kind != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE notifications")
        connection.exec_driver_sql("CHECKPOINT")


class Late:
    """A gateway whose every call is counted, and answered `latency` seconds late, as over a
    network."""

    def __init__(self, gateway: Any, latency: float, tally: Tally) -> None:
        self._gateway = gateway
        self._latency = latency
        self._tally = tally

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._gateway, name)
        if not callable(call):
            return call

        def late(*args: Any, **kwargs: Any) -> Any:
            self._tally.add("calls")
            if self._latency > 0:
                time.sleep(self._latency)
            return call(*args, **kwargs)

        return late


def dispatch_all(
    engine: Engine, runtime: NotifyRuntime, count: int, concurrency: int, latency: float
) -> dict[str, Any]:
    """Dispatch every accepted notification in rounds of 500, `concurrency` at once, each
    gateway call `latency` seconds late: the seconds, the calls and transactions a
    notification, and the statuses they reached."""
    tally = Tally()
    service = runtime.service
    service.dispatch_concurrency = concurrency
    service.social = {
        network: Late(gateway, latency, tally) for network, gateway in service.social.items()
    }
    service.sms = Late(service.sms, latency, tally)
    with tally.store(engine):
        started = time.perf_counter()
        while service.dispatch_due(limit=500):
            pass
        seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "per_s": round(count / seconds, 1),
        **tally.per(count),
        "statuses": statuses(engine),
    }


def case_time(
    kind: str,
    history: Path,
    scores: Path,
    name: str,
    phones: list[str],
    accepted: int,
    concurrency: int,
    latency: float,
) -> dict[str, Any]:
    """One run of case `name` (not the refused one): `dispatch_all` on a store of its own."""
    case = CASES[name]
    with accepted_store(kind, history, scores, case, phones, accepted) as (engine, runtime):
        settle(engine, kind)
        measured = dispatch_all(engine, runtime, accepted, concurrency, latency)
    if measured["statuses"] != {case.expected: accepted}:
        print(f"{kind} {name}: dispatched into {measured['statuses']}", file=sys.stderr)
    return measured


Refused = Callable[[str, int, float], dict[str, Any]]


def run_cases(
    work: Path,
    numbers: int,
    names: list[str],
    kinds: list[str],
    concurrencies: list[int],
    plan: tuple[int, float, int],
    refused: Refused,
) -> dict[str, Any]:
    """Each case's runs, interleaved: every repeat runs each store, each concurrency and each
    case once, in turn. `plan`: notifications a run, the gateway's latency (s), repeats.
    `refused(kind, concurrency, latency)` runs the refused case. Medians by store, case and
    concurrency."""
    accepted, latency, repeat = plan
    history, scores = scored_history(work, numbers)
    freshness = timedelta(days=load_settings().freshness_days)
    by_row = phones_by_row(Snapshot(scores / "snapshot.bin"), freshness)
    pools = {
        name: [phone for row in case.rows for phone in by_row.get(row, [])]
        for name, case in CASES.items()
    }
    runs: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for _ in range(repeat):
        for kind in kinds:
            for concurrency in concurrencies:
                for name in names:
                    if name == REFUSED:
                        run = refused(kind, concurrency, latency)
                    else:
                        run = case_time(
                            kind, history, scores, name, pools[name], accepted, concurrency, latency
                        )
                    runs.setdefault((kind, name, concurrency), []).append(run)
    report: dict[str, Any] = {"numbers": {name: len(pools[name]) for name in CASES}}
    for (kind, name, concurrency), measured in runs.items():
        report.setdefault(kind, {}).setdefault(name, {})[f"{concurrency}_at_once"] = _median(
            measured
        )
    return report


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the runs, the runs' rates, and the first run's statuses."""
    figures = [key for key, value in runs[0].items() if isinstance(value, int | float)]
    return {
        **{key: statistics.median(run[key] for run in runs) for key in figures},
        "runs_per_s": [run["per_s"] for run in runs],
        "statuses": runs[0]["statuses"],
    }
