"""Benchmark the notify path on SQLite and PostgreSQL, on 127.0.0.1 only.

  - accepted notifications per second through `POST /v1/notify`: `ownership serve --workers 2`
    on a synthetic snapshot of 10^6 numbers, requests signed before the clock starts, each with
    its own request_id and nonce, over 64 connections (and 1, for latency);
  - the time to sweep --expired notifications past their TTL into SMS fallback: in process,
    `NotifyService.sweep` in batches until none is left, with the channel simulators;
  - the time to dispatch --accepted notifications: in process, `NotifyService.dispatch_due` in
    rounds until none is left, with the channel simulators, each call answered
    --gateway-latency-ms late (a real gateway's round trip, without its HTTP client's CPU). The
    simulators here know no accounts, so a network the snapshot names refuses and each goes by
    SMS after it (about 1.5 gateway calls and four transactions a notification: claim, give
    back, claim, the SMS id kept). One notification at a time, and --concurrency at once
    (OWNERSHIP_NOTIFY_DISPATCH_CONCURRENCY). Each run also counts the gateway calls, and the
    store's transactions, commits and statements, a notification;
  - `cases`: the same dispatch case by case (bench/dispatch_cases.py), on a generated and scored
    history of --numbers numbers whose accounts the simulators know: delivered in VK or OK, a
    re-verification prompt, an SMS-code re-verification, the policy's SMS, and the SMS after a
    refusal above (--cases picks them); the runs interleaved, one of each in turn.
Figures are medians of --repeat runs; --parts picks which are run.

    python bench/bench_notify.py --requests 20000 --expired 100000 --accepted 20000 --repeat 3
    python bench/bench_notify.py --numbers 1e5 --accepted 1000 --parts cases --concurrency 8
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from bench_api import ROOT, Server, build_snapshot  # bench/, beside this file
from bench_webhooks import database
from cryptography.fernet import Fernet
from dispatch_cases import CASE_NAMES, dispatch_all, run_cases, settle
from loadgen import run_load
from sqlalchemy import Engine, func, insert, select

from delivery import records
from delivery.runtime import NotifyRuntime, build_notify_runtime
from delivery.templates import build_template_desk
from ownership.moderation import TemplateDraft
from pipelines.settings import load_settings
from pipelines.snapshot import Snapshot
from store.clients import register_client
from store.database import make_engine, session_factory, upgrade
from store.secrets import SecretCipher

TEMPLATE = TemplateDraft.of("Ваш заказ #order# готов к выдаче", "order_status", {"order": "A-17"})


def accept_rate(
    kind: str, scores: Path, phones: list[str], requests: int, repeat: int, port: int
) -> dict[str, object]:
    """Notifications accepted per second over HTTP, with two workers."""
    results: dict[str, object] = {}
    with database(kind) as url, tempfile.TemporaryDirectory() as work:
        server = Server(scores, Path(work), 2, port, database_url=url)
        try:
            submitted = _submit_template(server)
            server.cli("templates", "approve", submitted)
            for connections in (1, 64):
                count = requests if connections == 64 else requests // 10
                runs = []
                for round_ in range(repeat):
                    prepared = [
                        server.signed(
                            "/v1/notify",
                            _notification(
                                f"{connections}-{round_}-{i}", random.choice(phones), submitted
                            ),
                        )
                        for i in range(count)
                    ]
                    runs.append(run_load(port, prepared, connections, max_seconds=120))
                results[f"connections_{connections}"] = {
                    "accepted_per_s": round(statistics.median(run.per_second for run in runs), 1),
                    "p50_ms": round(statistics.median(run.percentile(0.5) for run in runs), 2),
                    "p99_ms": round(statistics.median(run.percentile(0.99) for run in runs), 2),
                    "failures": sum(run.failures for run in runs),
                    "failure_statuses": sorted(
                        {code for run in runs for code in run.failure_statuses}
                    ),
                    "requests": sum(run.requests for run in runs),
                }
        finally:
            server.stop()
    return results


def _submit_template(server: Server) -> str:
    import requests as http
    from requests_oauthlib import OAuth1

    body = {"text": TEMPLATE.text, "category": "order_status", "samples": {"order": "A-17"}}
    auth = OAuth1(
        server.key, server.secret, signature_method="HMAC-SHA256", force_include_body=True
    )
    answer = http.post(server.url("/v1/message_template"), json=body, auth=auth, timeout=10)
    answer.raise_for_status()
    return str(answer.json()["id"])


def _notification(request_id: str, phone: str, template_id: str) -> dict[str, object]:
    return {
        "request_id": request_id,
        "phone": phone,
        "template_id": template_id,
        "params": {"order": request_id[-8:]},
        "action": {"type": "order", "at": datetime.now(UTC).isoformat()},
        "ttl": 3600,
    }


def sweep_time(kind: str, scores: Path, phones: list[str], expired: int) -> dict[str, float]:
    """Seconds to sweep `expired` sent notifications past their TTL into SMS."""
    now = datetime.now(UTC)
    sent = {
        "status": "sent",
        "channel": "vk",
        "created_at": now - timedelta(hours=2),
        "expires_at": now - timedelta(hours=1),
    }
    with _notifications(kind, scores, phones, expired, sent) as (engine, runtime):
        started = time.perf_counter()
        while runtime.service.sweep(limit=5_000):
            pass
        seconds = time.perf_counter() - started
        sms = _count(engine, "sms_sent")
    if sms != expired:
        raise SystemExit(f"swept {sms} of {expired} into SMS")
    return {"expired": expired, "seconds": round(seconds, 2), "per_s": round(expired / seconds)}


def dispatch_time(
    kind: str,
    scores: Path,
    phones: list[str],
    accepted: int,
    concurrency: int,
    latency: float,
) -> dict[str, Any]:
    """Seconds to dispatch `accepted` notifications to deliver, in rounds of 500, carrying
    `concurrency` at once, each gateway call answered `latency` seconds late; the simulators
    know no account, so each goes by SMS after a refusal."""
    now = datetime.now(UTC)
    waiting = {
        "status": "accepted",
        "channel": None,
        "provider_id": None,
        "created_at": now,
        "expires_at": now + timedelta(hours=1),
    }
    with _notifications(kind, scores, phones, accepted, waiting) as (engine, runtime):
        measured = dispatch_all(engine, runtime, accepted, concurrency, latency)
    left = measured["statuses"].get("accepted", 0)
    if left:
        raise SystemExit(f"{left} of {accepted} left undispatched")
    return {"accepted": accepted, **measured}


def _count(engine: Engine, status: str) -> int:
    table = records.notifications
    with engine.connect() as connection:
        counted = connection.scalar(
            select(func.count()).select_from(table).where(table.c.status == status)
        )
    return int(counted or 0)


@contextmanager
def _notifications(
    kind: str, scores: Path, phones: list[str], count: int, state: Mapping[str, object]
) -> Iterator[tuple[Engine, NotifyRuntime]]:
    """A store of `kind` holding `count` notifications in `state`, and a notify runtime on
    it with the channel simulators."""
    with database(kind) as url:
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        cipher = SecretCipher([Fernet.generate_key().decode()])
        with sessions.begin() as session:
            client = register_client(session, "bench", ["127.0.0.1/32"], cipher)
        now = datetime.now(UTC)
        rows: list[dict[str, object]] = [
            {
                "id": f"ntf_bench{i:010d}",
                "client_key": client.key,
                "request_id": f"r-{i}",
                "request_hash": "0" * 64,
                "phone": phones[i % len(phones)],
                "country": "7",
                "template_id": "tpl_bench",
                "text": "Ваш заказ A-17 готов к выдаче",
                "action_type": "order",
                "action_at": now - timedelta(hours=2),
                "sensitive": False,
                "mobile_only": False,
                "fallback": "sms",
                "callback_url": None,
                "decision": "deliver",
                "policy_case": "VERIFIED_FRESH",
                "number_status": "verified",
                "reasons": ["RECENT_CODE_ENTRY"],
                "status": "sent",
                "channel": "vk",
                "provider_id": f"vk-never-{i}",
                "updated_at": now - timedelta(hours=2),
                "answer": {},
                **state,
            }
            for i in range(count)
        ]
        with engine.begin() as connection:
            for start in range(0, count, 10_000):
                connection.execute(insert(records.notifications), rows[start : start + 10_000])
        settle(engine, kind)
        snapshot = Snapshot(scores / "snapshot.bin")
        settings = load_settings(database_url=url)
        desk = build_template_desk(settings, sessions)
        runtime = build_notify_runtime(
            settings, engine, _Clock(), lambda: snapshot, desk, cipher=cipher
        )
        try:
            yield engine, runtime
        finally:
            engine.dispose()


PARTS = ("accept", "sweep", "dispatch", "cases")


def _timed(runs: list[dict[str, Any]], **size: int) -> dict[str, object]:
    """The median of timed runs, each run's seconds, and the median of what a dispatch run
    counted a notification (calls, transactions, ...)."""
    seconds = statistics.median(run["seconds"] for run in runs)
    counted = [key for key in runs[0] if key.endswith("_per")]
    return {
        **size,
        "seconds": seconds,
        "per_s": round(next(iter(size.values())) / seconds),
        "runs_s": [run["seconds"] for run in runs],
        **{key: statistics.median(run[key] for run in runs) for key in counted},
    }


class _Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--numbers", type=float, default=1e6)
    parser.add_argument("--requests", type=int, default=20_000, help="per run at 64 connections")
    parser.add_argument("--expired", type=int, default=100_000)
    parser.add_argument("--accepted", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8, help="notifications at once")
    parser.add_argument("--gateway-latency-ms", type=float, default=0.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--parts", nargs="+", choices=PARTS, default=list(PARTS), help="what to measure"
    )
    parser.add_argument(
        "--cases", nargs="+", choices=CASE_NAMES, default=list(CASE_NAMES), help="--parts cases"
    )
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--port", type=int, default=18_775)
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "bench" / "api")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    served = int(args.numbers)
    scores = args.work / f"scores-{served:.0e}".replace("+", "")
    scores.mkdir(exist_ok=True)
    build_snapshot(scores / "snapshot.bin", served)
    keys = np.asarray(Snapshot(scores / "snapshot.bin").columns["phone"])
    phones = [f"+{key}" for key in np.random.default_rng(5).choice(keys, 50_000).tolist()]
    report: dict[str, object] = {}
    if "cases" in args.parts:
        latency = args.gateway_latency_ms / 1000
        concurrencies = sorted({1, args.concurrency})

        def refused(kind: str, concurrency: int, latency: float) -> dict[str, Any]:
            return dispatch_time(kind, scores, phones, args.accepted, concurrency, latency)

        plan = (args.accepted, latency, args.repeat)
        report["cases"] = run_cases(
            args.work, served, args.cases, args.databases, concurrencies, plan, refused
        )
    for kind in args.databases:
        measured: dict[str, object] = {}
        if "sweep" in args.parts:
            sweeps = [sweep_time(kind, scores, phones, args.expired) for _ in range(args.repeat)]
            measured["sweep"] = _timed(sweeps, expired=args.expired)
        if "dispatch" in args.parts:
            latency = args.gateway_latency_ms / 1000
            for concurrency in sorted({1, args.concurrency}):
                runs = [
                    dispatch_time(kind, scores, phones, args.accepted, concurrency, latency)
                    for _ in range(args.repeat)
                ]
                measured[f"dispatch_{concurrency}_at_once"] = _timed(runs, accepted=args.accepted)
        if "accept" in args.parts:
            measured["accept"] = accept_rate(
                kind, scores, phones, args.requests, args.repeat, args.port
            )
        report[kind] = measured
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
