"""SIGKILL in the middle of a burst of notifications, then a restart: every accepted
notification still reaches a final state, none is delivered twice, and billing matches.

`ownership serve --jobs` runs the API and the jobs in one process, on the channel simulators,
with a clock 60 times faster than real time and anchored, so that the restarted process goes on
where the killed one was. The client retries what the crash cut off, with the same request_id.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from requests_oauthlib import OAuth1
from sqlalchemy import create_engine, func, select

from delivery import records
from ownership.notifications import SETTLED, NotificationStatus
from tests.api.service import (
    NOW,
    RECYCLED,
    SUSPICIOUS,
    VERIFIED_FRESH,
    crafted_history,
    score_history,
)

pytestmark = pytest.mark.integration
OWNERSHIP = str(Path(sys.executable).with_name("ownership"))
PHONES = (VERIFIED_FRESH, RECYCLED, SUSPICIOUS)
BURST = 150
S = NotificationStatus
FINAL = SETTLED
START = NOW.replace(tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Service:
    def __init__(self, folder: Path) -> None:
        scores = score_history(crafted_history(), folder)
        self.port = free_port()
        self.anchor = datetime.now(UTC)
        self.url = f"http://127.0.0.1:{self.port}"
        self.database = f"sqlite:///{folder / 'ownership.db'}"
        self.env = {
            **os.environ,
            "OWNERSHIP_SCORES_DIR": str(scores),
            "OWNERSHIP_HISTORY_DIR": str(folder / "events"),
            "OWNERSHIP_DATABASE_URL": self.database,
            "OWNERSHIP_SECRET_KEY_FILE": str(folder / "secret.key"),
            "OWNERSHIP_CLOCK_SPEED": "60",
            # virtual time starts where the scored history ends, so its accounts are active
            "OWNERSHIP_CLOCK_ANCHOR": self.anchor.isoformat(),
            "OWNERSHIP_CLOCK_START": START.isoformat(),
            "OWNERSHIP_NOTIFY_DISPATCH_SECONDS": "0.1",
            "OWNERSHIP_NOTIFY_SWEEP_SECONDS": "0.2",
            # an SMS whose report the killed simulator took along is awaited until its
            # validity and then the time-out have passed: the shortest of each, 20 s here
            "OWNERSHIP_SMS_VALIDITY_SECONDS": "600",
            "OWNERSHIP_SMS_REPORT_TIMEOUT_SECONDS": "600",
        }
        self.process: subprocess.Popen[bytes] | None = None
        added = self.cli("clients", "add", "bank", "--allow-ip", "127.0.0.1/32")
        self.key, self.secret = added["key"], added["secret"]

    def cli(self, *args: str) -> dict[str, str]:
        done = subprocess.run(
            [OWNERSHIP, *args], env=self.env, check=True, capture_output=True, text=True
        )
        return dict(json.loads(done.stdout)) if done.stdout.strip().startswith("{") else {}

    def start(self) -> None:
        self.process = subprocess.Popen(
            [OWNERSHIP, "serve", "--port", str(self.port), "--jobs"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the service did not start")

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def post(self, path: str, body: object) -> requests.Response:
        auth = OAuth1(
            self.key, self.secret, signature_method="HMAC-SHA256", force_include_body=True
        )
        return requests.post(f"{self.url}{path}", json=body, auth=auth, timeout=5)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    running = Service(tmp_path)
    running.start()
    yield running
    if running.process is not None and running.process.poll() is None:
        running.kill()


def notification(request_id: str, phone: str, template_id: str) -> dict[str, object]:
    """A notification answering an order placed a moment ago (in the service's virtual time)."""
    return {
        "request_id": request_id,
        "phone": phone,
        "template_id": template_id,
        "params": {"order": request_id},
        "action": {"type": "order", "at": START.isoformat()},
        "ttl": 60,
        "sensitive": request_id.endswith("3"),
    }


def test_every_accepted_notification_ends_once_and_is_billed_once_after_a_sigkill(
    service: Service,
) -> None:
    submitted = service.post(
        "/v1/message_template",
        {
            "text": "Ваш заказ #order# готов к выдаче",
            "category": "order_status",
            "samples": {"order": "A-17"},
        },
    )
    assert submitted.status_code == 201, submitted.text
    template_id = submitted.json()["id"]
    service.cli("templates", "approve", template_id)

    accepted: dict[str, str] = {}  # request_id -> notification id
    cut_off: list[str] = []
    for number in range(BURST):
        request_id = f"burst-{number}"
        if number == BURST // 2:
            service.kill()  # mid-burst: some accepted, some dispatched, some delivered
        try:
            answer = service.post(
                "/v1/notify", notification(request_id, PHONES[number % 3], template_id)
            )
        except requests.ConnectionError:
            cut_off.append(request_id)
            continue
        assert answer.status_code == 202, answer.text
        accepted[request_id] = answer.json()["id"]
    assert cut_off, "the kill came after the burst"

    service.start()
    for request_id in cut_off:  # the client retries what the crash cut off
        number = int(request_id.split("-")[1])
        answer = service.post(
            "/v1/notify", notification(request_id, PHONES[number % 3], template_id)
        )
        assert answer.status_code == 202, answer.text
        accepted[request_id] = answer.json()["id"]

    engine = create_engine(service.database)
    table = records.notifications
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            waiting = connection.scalar(
                select(func.count())
                .select_from(table)
                .where(table.c.status.not_in([status.value for status in FINAL]))
            )
        if waiting == 0:
            break
        time.sleep(0.5)
    service.kill()

    with engine.connect() as connection:
        statuses = dict(connection.execute(select(table.c.id, table.c.status)).all())
        events = connection.execute(
            select(records.events.c.notification_id, records.events.c.status)
        ).all()
        billed = connection.execute(select(records.ledger.c.notification_id)).scalars().all()
    assert set(accepted.values()) == set(statuses)  # nothing lost, nothing made up
    assert delivered_socially_count(statuses) > 0  # the social path was taken too
    assert {S(status) for status in statuses.values()} <= FINAL, statuses
    delivered_socially = {row[0] for row in events if row[1] == S.DELIVERED.value}
    delivered_by_sms = {row[0] for row in events if row[1] == S.SMS_DELIVERED.value}
    assert not delivered_socially & delivered_by_sms  # none delivered twice
    assert sorted(billed) == sorted(delivered_socially | delivered_by_sms)
    assert len(billed) == len(set(billed))
    assert billed


def delivered_socially_count(statuses: dict[str, str]) -> int:
    return sum(status in (S.DELIVERED.value, S.READ.value) for status in statuses.values())
