"""HTTP as a client that no library would write sends it: headers alone, a body cut short.

requests and its kin always send the whole body and wait for the whole answer, so what a
server does before the body, or when the caller hangs up in the middle of it, is seen only on
a raw socket.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from prometheus_client.parser import text_string_to_metric_families
from requests_oauthlib import OAuth1

from tests.api.service import Caller

READ_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Answer:
    """One response as it came: an interim `100 Continue` is one too."""

    status: int
    headers: Mapping[str, str]  # by lower-case name
    body: bytes


@contextmanager
def request_sent(
    base_url: str,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body_sent: bytes = b"",
) -> Iterator[socket.socket]:
    """A connection on which the request line, `headers` and then `body_sent` are written, and
    nothing more: whatever `Content-Length` the headers declare. Closed on leaving, hanging up
    on a server that may still be waiting for the rest."""
    address = urlsplit(base_url)
    assert address.hostname is not None and address.port is not None
    lines = [f"{method} {target} HTTP/1.1", f"Host: {address.netloc}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    with socket.create_connection((address.hostname, address.port)) as connection:
        connection.settimeout(READ_TIMEOUT_SECONDS)
        connection.sendall(head + body_sent)
        yield connection


def authorization(
    caller: Caller,
    method: str,
    target: str,
    body: bytes,
    signature_method: str = "HMAC-SHA256",
    **signing: Any,
) -> str:
    """The Authorization header of `method target` with `body` as JSON, signed by `caller`;
    `signing` takes oauthlib's other arguments (`timestamp=`, `resource_owner_key=`)."""
    signer = OAuth1(
        caller.key,
        caller.secret,
        signature_method=signature_method,
        force_include_body=True,
        **signing,
    )
    json_headers = {"Content-Type": "application/json"}
    url = f"{caller.url}{target}"
    signed = requests.Request(method, url, data=body, headers=json_headers, auth=signer).prepare()
    header: str | bytes = signed.headers["Authorization"]  # requests-oauthlib's are bytes
    return header.decode() if isinstance(header, bytes) else header


def first_answer(connection: socket.socket) -> Answer:
    """The first response on `connection`, read to the end of its body (an interim one has
    none); `socket.timeout` if none comes within READ_TIMEOUT_SECONDS."""
    stream = connection.makefile("rb")
    status_line = stream.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if status < 200 else int(headers.get("content-length", "0"))
    return Answer(status, headers, stream.read(length))


def answers_counted(base_url: str, route: str, method: str) -> Counter[str]:
    """The service's count of answers on `route` (a template, `/v1/check`) by status, as
    /metrics shows it."""
    counted: Counter[str] = Counter()
    text = requests.get(f"{base_url}/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "ownership_http_requests_total" and (
                labels["route"],
                labels["method"],
            ) == (route, method):
                counted[labels["status"]] += int(sample.value)
    return counted


def answers_after(
    base_url: str, route: str, method: str, before: Counter[str], deadline_seconds: float = 10.0
) -> Counter[str]:
    """The answers on `route` counted since `before`, once there is one: a call whose caller
    hung up is counted when the service is done with it, a moment after."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        since = answers_counted(base_url, route, method) - before
        if since or time.monotonic() > deadline:
            return since
        time.sleep(0.02)
