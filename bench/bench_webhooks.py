"""Benchmark the webhook outbox on SQLite and PostgreSQL: enqueue and dispatch rates.

In one run, on 127.0.0.1 only, bounded in events:
  - enqueue: --events events, 100 a transaction (what an enqueue adds to its caller's
    transaction) and each in a transaction of its own (a commit each), events/s;
  - dispatch to a recording sender (the store's share: claim, sign, settle), events/s;
  - dispatch over HTTP to a receiver in another process (uvicorn, answers 204), events/s,
    with one dispatcher and with two at once;
  - behind a hanging endpoint: a client's --hanging events are due first, at an endpoint that
    never answers (1 s deadline), and another client's 5 after them; seconds until those 5
    are delivered;
  - behind a burst: a client's --burst events are due first, at a healthy endpoint, and another
    client's 5 after them; seconds until those 5 are delivered, and until the burst is.
--clients registers that many more clients, with no event due, before any of it: each claim
looks for every client's earliest due event.

    python bench/bench_webhooks.py --events 5000
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import Engine, create_engine, func, make_url, select, text
from sqlalchemy.orm import Session, sessionmaker

from delivery.clock import VirtualClock
from delivery.webhooks import HttpWebhookSender, WebhookDispatcher, WebhookSender, enqueue
from delivery.webhooks.fakes import RecordingWebhookSender
from store.clients import register_client
from store.database import make_engine, session_factory, upgrade
from store.secrets import SecretCipher
from store.tables import Base

POSTGRES_ADMIN_URL = os.environ.get(
    "OWNERSHIP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NOW = datetime.now(UTC)
PAYLOAD = {"notification_id": "ntf_0123456789", "status": "delivered", "at": NOW.isoformat()}


async def receiver(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def,type-arg]
    """A client's endpoint: reads the body, answers 204."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@contextmanager
def receiving() -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "uvicorn", "bench_webhooks:receiver", "--port", str(port)]
    command += ["--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen([*command, "--app-dir", str(Path(__file__).parent)])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the receiver did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/hooks"
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    name = f"ownership_bench_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def enqueue_events(
    engine: Engine, client_key: str, url: str, count: int, per_transaction: int = 1
) -> float:
    sessions = session_factory(engine)
    started = time.perf_counter()
    for _ in range(0, count, per_transaction):
        enqueue_at(sessions, client_key, url, per_transaction, NOW)
    return count / (time.perf_counter() - started)


def dispatch_rate(
    engine: Engine, cipher: SecretCipher, sender: WebhookSender, count: int, dispatchers: int
) -> float:
    clock = VirtualClock(NOW)
    workers = [WebhookDispatcher(engine, cipher, sender, clock) for _ in range(dispatchers)]
    done = [0] * dispatchers

    def work(slot: int) -> None:
        done[slot] = workers[slot].dispatch_all_due(limit=100, max_batches=10_000)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(dispatchers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    assert sum(done) == count, (done, count)
    return count / elapsed


def behind_a_hanging_endpoint(
    engine: Engine, cipher: SecretCipher, receiver_url: str, backlog: int
) -> float:
    """Seconds until another client's 5 events are delivered, behind `backlog` events due
    earlier at an endpoint that accepts connections and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=4096) as hanging:
        hanging_url = f"http://127.0.0.1:{hanging.getsockname()[1]}/hooks"
        with session_factory(engine).begin() as session:
            stuck = register_client(session, "stuck", ["127.0.0.0/8"], cipher).key
            waiting = register_client(session, "waiting", ["127.0.0.0/8"], cipher).key
        clock = VirtualClock(NOW)
        enqueue_at(session_factory(engine), stuck, hanging_url, backlog, clock.now())
        clock.advance(timedelta(seconds=1))
        enqueue_at(session_factory(engine), waiting, receiver_url, 5, clock.now())
        sender = HttpWebhookSender.with_timeout(1.0, private_callbacks=True)
        dispatcher = WebhookDispatcher(engine, cipher, sender, clock)
        started = time.perf_counter()
        try:
            while delivered_of(engine, waiting) < 5:
                dispatcher.dispatch_due(limit=100)
        finally:
            sender.close()
        return time.perf_counter() - started


def behind_a_burst(
    engine: Engine, cipher: SecretCipher, receiver_url: str, burst: int
) -> tuple[float, float]:
    """Seconds until another client's 5 events are delivered, behind `burst` events due
    earlier at a healthy endpoint; and seconds until all are."""
    with session_factory(engine).begin() as session:
        busy = register_client(session, "busy", ["127.0.0.0/8"], cipher).key
        waiting = register_client(session, "behind", ["127.0.0.0/8"], cipher).key
    clock = VirtualClock(NOW)
    for start in range(0, burst, 1_000):
        enqueue_at(
            session_factory(engine), busy, receiver_url, min(1_000, burst - start), clock.now()
        )
    clock.advance(timedelta(seconds=1))
    enqueue_at(session_factory(engine), waiting, receiver_url, 5, clock.now())
    sender = HttpWebhookSender.with_timeout(5.0, private_callbacks=True)
    dispatcher = WebhookDispatcher(engine, cipher, sender, clock)
    started = time.perf_counter()
    behind = None
    try:
        while delivered_of(engine, busy) < burst or behind is None:
            dispatcher.dispatch_due(limit=100)
            if behind is None and delivered_of(engine, waiting) == 5:
                behind = time.perf_counter() - started
    finally:
        sender.close()
    return behind, time.perf_counter() - started


def enqueue_at(
    sessions: sessionmaker[Session], client_key: str, url: str, count: int, now: datetime
) -> None:
    """`count` events in one transaction."""
    with sessions.begin() as session:
        for _ in range(count):
            enqueue(
                session,
                client_key=client_key,
                url=url,
                event_type="notification.status",
                payload=PAYLOAD,
                now=now,
            )


def delivered_of(engine: Engine, client_key: str) -> int:
    table = Base.metadata.tables["webhook_deliveries"]
    with engine.connect() as connection:
        counted = connection.scalar(
            select(func.count())
            .select_from(table)
            .where(table.c.client_key == client_key, table.c.state == "delivered")
        )
    return int(counted or 0)


def clear_outbox(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(Base.metadata.tables["webhook_deliveries"].delete())


def bench(
    kind: str, count: int, receiver_url: str, hanging: int, burst: int, clients: int
) -> dict[str, float]:
    cipher = SecretCipher([Fernet.generate_key().decode()])
    with database(kind) as url:
        upgrade(url)
        engine = make_engine(url, pool_size=10)
        try:
            with session_factory(engine).begin() as session:
                key = register_client(session, "bench", ["127.0.0.0/8"], cipher).key
                for number in range(clients):  # registered, with no event due
                    register_client(session, f"idle-{number}", ["127.0.0.0/8"], cipher)
            results = {
                "enqueue_100_a_transaction_per_s": enqueue_events(
                    engine, key, receiver_url, count, per_transaction=100
                )
            }
            clear_outbox(engine)
            results["enqueue_1_a_transaction_per_s"] = enqueue_events(
                engine, key, receiver_url, count
            )
            results["dispatch_recording_per_s"] = dispatch_rate(
                engine, cipher, RecordingWebhookSender(), count, 1
            )
            for dispatchers in (1, 2):
                clear_outbox(engine)
                enqueue_events(engine, key, receiver_url, count)
                sender = HttpWebhookSender.with_timeout(5.0, private_callbacks=True)
                try:
                    results[f"dispatch_http_{dispatchers}_per_s"] = dispatch_rate(
                        engine, cipher, sender, count, dispatchers
                    )
                finally:
                    sender.close()
            if hanging:
                clear_outbox(engine)
                results["behind_a_hanging_endpoint_seconds"] = behind_a_hanging_endpoint(
                    engine, cipher, receiver_url, hanging
                )
            if burst:
                clear_outbox(engine)
                behind, whole = behind_a_burst(engine, cipher, receiver_url, burst)
                results["behind_a_burst_seconds"] = behind
                results["burst_delivered_seconds"] = whole
        finally:
            engine.dispose()
    return {
        name: round(value, 1) if name.endswith("_seconds") else round(value)
        for name, value in results.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--hanging", type=int, default=1_500, help="events due first at a hanging endpoint"
    )
    parser.add_argument(
        "--burst", type=int, default=10_000, help="events due first at a healthy endpoint"
    )
    parser.add_argument(
        "--clients", type=int, default=0, help="more clients registered, with no event due"
    )
    args = parser.parse_args()
    with receiving() as receiver_url:
        report = {
            kind: bench(kind, args.events, receiver_url, args.hanging, args.burst, args.clients)
            for kind in args.databases.split(",")
        }
    figures = {
        "events": args.events,
        "hanging": args.hanging,
        "burst": args.burst,
        "clients": args.clients,
    }
    print(json.dumps({**figures, **report}, indent=2))


if __name__ == "__main__":
    main()
