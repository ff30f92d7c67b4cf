"""A running API over a crafted, scored history, called over HTTP with requests-oauthlib.

The history (scored as of 2026-06-01, served on 2026-06-02):
- VERIFIED_FRESH (+79234567823): Anna since 400 days, a VK code 10 days ago, VK active, app.
- RECYCLED (+79161234567): Anna until 200 days ago; Boris registers 100 days ago.
- SUSPICIOUS (+79031112233): one VK registration 300 days ago, nothing since; OK active, web.
- ACCOUNT_ONLY (+79035550011): a bound account and no event: no history.
- UNSEEN (+79269998877): not in the history at all.
- VERIFIED_OLDER (+79161112244): Anna since 400 days, her last VK code 45 days ago (within W,
  not within F); VK active.
- VERIFIED_ASLEEP (+79161113355): a steady owner whose VK account was last seen 30 days ago.
- NO_HOLDER_SINCE_CHANGE (+79161114466): Anna until 200 days ago; her VK account, still bound,
  reports 150 days ago that the number is no longer hers; nothing since (out of service).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import requests
import uvicorn
from fastapi import FastAPI
from requests_oauthlib import OAuth1

from pipelines.scoring import ScoreRequest, score
from tests.factories import ANNA, AS_OF, BORIS, RU_MOBILE, History, days_ago, steady_owner

VERIFIED_FRESH = RU_MOBILE
RECYCLED = "+79161234567"
SUSPICIOUS = "+79031112233"
ACCOUNT_ONLY = "+79035550011"
UNSEEN = "+79269998877"
VERIFIED_OLDER = "+79161112244"
VERIFIED_ASLEEP = "+79161113355"
NO_HOLDER_SINCE_CHANGE = "+79161114466"
CHANGE_REPORTED_AT = days_ago(150)
NOW = AS_OF + timedelta(days=1, hours=9)
COVERAGE_FROM = days_ago(400)
RECYCLED_OWNER_SINCE = days_ago(100)
# a number whose new holder registered at noon: a date asks about the whole of its day
RECYCLED_AT_NOON = "+79161115577"
NOON_OWNER_SINCE = days_ago(99.5)
# times a datetime holds with their offsets but not in UTC, where they leave years 1 to 9999
TIMES_BEYOND_UTC = ("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00")


def crafted_history() -> History:
    history = steady_owner(History(), VERIFIED_FRESH, until_days=10)
    steady_owner(history, RECYCLED, until_days=200)
    history.register(RECYCLED, RECYCLED_OWNER_SINCE, BORIS, product="mail", account="mail-9")
    steady_owner(history, RECYCLED_AT_NOON, until_days=200)
    history.register(RECYCLED_AT_NOON, NOON_OWNER_SINCE, BORIS, product="mail", account="mail-7")
    history.register(SUSPICIOUS, days_ago(300), ANNA, product="ok", account="ok-3")
    history.account(SUSPICIOUS, "ok-3", last_seen=days_ago(2), mobile_app=False)
    history.account(ACCOUNT_ONLY, "vk-8")
    steady_owner(history, VERIFIED_OLDER, until_days=45)
    steady_owner(history, VERIFIED_ASLEEP, until_days=10, seen_days=30)
    history.register(NO_HOLDER_SINCE_CHANGE, days_ago(400), ANNA, account="vk-1")
    history.account(NO_HOLDER_SINCE_CHANGE, "vk-1")
    for day in range(370, 199, -30):
        history.code(NO_HOLDER_SINCE_CHANGE, days_ago(day), "vk", "vk-1")
        history.sms(NO_HOLDER_SINCE_CHANGE, days_ago(day))
    history.number_change(NO_HOLDER_SINCE_CHANGE, CHANGE_REPORTED_AT, account="vk-1")
    return history


def score_history(history: History, folder: Path, as_of: datetime = AS_OF) -> Path:
    """Score `history` into `folder/scores`; returns that folder."""
    events = history.write(folder / "events")
    out = folder / "scores"
    score(ScoreRequest(events, out, as_of=as_of))
    return out


@contextmanager
def serving(app: FastAPI, lifespan: Literal["on", "off"] = "on") -> Iterator[str]:
    """Run `app` under uvicorn on a free port of 127.0.0.1; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass
class Caller:
    """A client of the API: its base URL and an OAuth1 signer per call."""

    url: str
    key: str
    secret: str

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        # a body is covered by oauth_body_hash; requests-oauthlib cannot hash an absent one
        auth = OAuth1(
            self.key,
            self.secret,
            signature_method="HMAC-SHA256",
            force_include_body=body is not None,
        )
        return requests.post(f"{self.url}{path}", json=body, auth=auth, timeout=30, **kwargs)

    def post_text(self, path: str, text: str) -> requests.Response:
        """A JSON body as written, for numbers Python's encoder would not write (1e309)."""
        auth = OAuth1(
            self.key, self.secret, signature_method="HMAC-SHA256", force_include_body=True
        )
        headers = {"Content-Type": "application/json"}
        return requests.post(f"{self.url}{path}", data=text, headers=headers, auth=auth, timeout=30)

    def get_signed(self, path: str, **kwargs: Any) -> requests.Response:
        auth = OAuth1(self.key, self.secret, signature_method="HMAC-SHA256")
        return requests.get(f"{self.url}{path}", auth=auth, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(f"{self.url}{path}", timeout=30, **kwargs)
