"""What a caller may hold of a worker before its request reaches the app: a head of a bounded
size, sent within a bounded time, and then a body within a bounded time.

The server is uvicorn with the API's protocol (api.http_protocol), its bounds made small, in
front of an app that reads the body and answers its length.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import suppress

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from api.http_protocol import ServerHttpProtocol

HEAD_LIMIT = 4096
HEAD_SECONDS = 0.3
BODY_SECONDS = 0.6


class SmallBoundsProtocol(ServerHttpProtocol):
    head_limit = HEAD_LIMIT
    head_seconds = HEAD_SECONDS
    body_seconds = BODY_SECONDS


class BodyReader:
    """An app that reads the whole body and answers its length; it notes a caller gone."""

    def __init__(self) -> None:
        self.disconnected = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected.set()
                return
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        if scope["path"] == "/slow":  # an answer longer in coming than a head may take
            await asyncio.sleep(HEAD_SECONDS * 3)
        body = str(size).encode()
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def app() -> BodyReader:
    return BodyReader()


@pytest.fixture(scope="module")
def port(app: BodyReader) -> Iterator[int]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, http=SmallBoundsProtocol, log_level="critical"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    thread.join(timeout=10)


def connect(port: int) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def read_until_closed(connection: socket.socket) -> bytes:
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def read_response(connection: socket.socket) -> bytes:
    """One response on a connection kept open: its head, then as many bytes as it declares,
    and not a byte of the next one (two pipelined answers may come in one segment)."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = connection.recv(1)
        assert byte, "closed before the head ended"
        head += byte
    length = int(
        next(
            line.split(b":")[1]
            for line in head.lower().split(b"\r\n")
            if line.startswith(b"content-length")
        )
    )
    body = b""
    while len(body) < length:
        chunk = connection.recv(length - len(body))
        assert chunk, "closed before the body ended"
        body += chunk
    return head + body


def status_and_body(response: bytes) -> tuple[int, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def request(body: bytes = b"hello", path: bytes = b"/any") -> bytes:
    return b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s" % (
        path,
        len(body),
        body,
    )


def test_a_request_within_the_bounds_is_answered(port: int) -> None:
    with connect(port) as connection:
        connection.sendall(request(b"twelve bytes"))
        assert status_and_body(read_response(connection)) == (200, b"12")


def test_a_keep_alive_connection_may_wait_between_requests_longer_than_a_head_may_take(
    port: int,
) -> None:
    with connect(port) as connection:
        connection.sendall(request())
        assert status_and_body(read_response(connection)) == (200, b"5")
        time.sleep(HEAD_SECONDS * 2)  # idle, within uvicorn's keep-alive of 5 s
        connection.sendall(request(b"again"))
        assert status_and_body(read_response(connection)) == (200, b"5")


def test_a_body_far_over_the_heads_limit_sent_with_its_head_at_once_is_read_whole(
    port: int,
) -> None:
    body = b"x" * (HEAD_LIMIT * 20)  # a bulk check's, as a client writes head and body at once
    with connect(port) as connection:
        connection.sendall(request(body))
        assert status_and_body(read_response(connection)) == (200, str(len(body)).encode())


def test_requests_sent_one_after_another_at_once_are_all_answered(port: int) -> None:
    with connect(port) as connection:
        connection.sendall(request(b"x" * 1000) * 20)  # pipelined: 20 kB, past the head's bound
        received = b""
        while received.count(b"\r\n\r\n1000") < 20:
            received += connection.recv(65536)
    assert received.count(b"HTTP/1.1 200 OK") == 20


def test_a_request_answered_slowly_is_not_cut_by_the_next_heads_clock(port: int) -> None:
    with connect(port) as connection:
        connection.sendall(request(path=b"/slow") + b"\r\n")  # and a stray line break after it
        assert status_and_body(read_response(connection)) == (200, b"5")


def test_a_head_over_the_limit_is_refused_with_431_in_the_envelope_and_closed(port: int) -> None:
    with connect(port) as connection:
        connection.sendall(b"GET /any HTTP/1.1\r\nhost: x\r\nx-filler: " + b"a" * HEAD_LIMIT)
        status, body = status_and_body(read_until_closed(connection))
    assert status == 431
    assert json.loads(body) == {
        "status": 431,
        "code": "INVALID_ARGUMENT",
        "message": "The request's head is larger than 4,096 bytes",
    }


def test_a_whole_head_over_the_limit_sent_at_once_with_its_body_is_refused_too(port: int) -> None:
    head = b"POST /any HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nx-filler: "
    filler = b"a" * (HEAD_LIMIT + 10 - len(head) - 4)
    with connect(port) as connection:
        connection.sendall(head + filler + b"\r\n\r\nhello")  # one chunk: head, end and body
        assert status_and_body(read_until_closed(connection))[0] == 431


def test_a_head_just_within_the_limit_whose_end_comes_in_two_writes_is_answered(
    port: int,
) -> None:
    head = b"POST /any HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nx-filler: "
    filler = b"a" * (HEAD_LIMIT - len(head) - 4)
    with connect(port) as connection:
        connection.sendall(head + filler + b"\r\n\r")
        time.sleep(0.05)
        connection.sendall(b"\nhello")
        assert status_and_body(read_response(connection)) == (200, b"5")


def test_a_pipelined_heads_end_split_across_writes_before_its_body_is_answered(
    port: int,
) -> None:
    body = b"x" * (HEAD_LIMIT * 2)
    second = b"POST /any HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % len(body)
    with connect(port) as connection:
        connection.sendall(request() + second[:-1])  # the first, and the second's head but "\n"
        time.sleep(0.05)
        connection.sendall(second[-1:] + body)
        assert status_and_body(read_response(connection)) == (200, b"5")
        assert status_and_body(read_response(connection)) == (200, str(len(body)).encode())


def test_a_head_over_the_limit_after_stray_line_breaks_is_refused_too(port: int) -> None:
    with connect(port) as connection:
        connection.sendall(request())
        assert status_and_body(read_response(connection)) == (200, b"5")
        filler = b"a" * (HEAD_LIMIT * 10)
        connection.sendall(
            b"\r\n\r\nGET /any HTTP/1.1\r\nhost: x\r\nx-filler: " + filler + b"\r\n\r\n"
        )
        assert status_and_body(read_until_closed(connection))[0] == 431


def test_a_refused_head_behind_a_request_being_answered_lets_that_answer_through(
    port: int,
) -> None:
    oversized = b"GET /any HTTP/1.1\r\nhost: x\r\nx-filler: " + b"a" * HEAD_LIMIT + b"\r\n\r\n"
    with connect(port) as connection:
        connection.sendall(request(path=b"/slow") + oversized)
        assert status_and_body(read_response(connection)) == (200, b"5")
        assert read_until_closed(connection) == b""  # and no answer taken for the second's


def test_a_pipelined_requests_body_is_held_to_its_time_once_its_turn_comes(port: int) -> None:
    queued = b"POST /any HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nhello"
    with connect(port) as connection:
        connection.sendall(request(path=b"/slow") + queued)  # and the rest of its body never
        assert status_and_body(read_response(connection)) == (200, b"5")
        assert read_until_closed(connection) == b""


def test_a_chunked_bodys_trailer_fields_are_held_to_the_heads_bound(port: int) -> None:
    head = b"POST /any HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
    with connect(port) as connection:
        connection.sendall(head + b"5\r\nhello\r\n0\r\nx-trailer: ")
        with suppress(OSError):  # the server may close while the trailer is still being sent
            for _ in range(HEAD_LIMIT // 512 * 4):  # a trailer four times a head's bound
                time.sleep(0.005)
                connection.sendall(b"a" * 512)
            connection.sendall(b"\r\n\r\n")
        assert read_until_closed(connection) == b""  # closed, the request never answered


def test_tiny_chunks_earn_no_allowance_for_a_trailer_sent_after_them(port: int) -> None:
    head = b"POST /any HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
    with connect(port) as connection:
        connection.sendall(head + b"1\r\na\r\n" * 2000 + b"0\r\nx-trailer: ")
        with suppress(OSError):
            for _ in range(HEAD_LIMIT // 512 * 4):
                time.sleep(0.005)
                connection.sendall(b"a" * 512)
            connection.sendall(b"\r\n\r\n")
        assert read_until_closed(connection) == b""


def test_requests_queued_behind_an_answer_are_each_given_their_bodys_time_in_turn(
    port: int,
) -> None:
    stalled = b"POST /any HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nhello"
    with connect(port) as connection:
        connection.sendall(request(path=b"/slow") + request(path=b"/slow") + stalled)
        assert status_and_body(read_response(connection)) == (200, b"5")
        assert status_and_body(read_response(connection)) == (200, b"5")
        assert read_until_closed(connection) == b""  # the stalled body's own time, then


def test_line_breaks_after_a_request_and_then_silence_close_the_connection_unanswered(
    port: int,
) -> None:
    with connect(port) as connection:
        connection.sendall(request())
        assert status_and_body(read_response(connection)) == (200, b"5")
        connection.sendall(b"\r\n")  # which a client may send between requests
        assert read_until_closed(connection) == b""  # no 408 to a request never sent


def test_a_refused_websocket_upgrade_is_answered_431_without_an_error_logged(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    upgrade = b"GET /any HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\n"
    with caplog.at_level(logging.WARNING), connect(port) as connection:
        connection.sendall(upgrade + b"x-filler: " + b"a" * HEAD_LIMIT + b"\r\n\r\n")
        assert status_and_body(read_until_closed(connection))[0] == 431
        time.sleep(0.1)
    assert [record.getMessage() for record in caplog.records] == []


def test_a_head_that_stops_coming_is_refused_with_408_and_closed(port: int) -> None:
    with connect(port) as connection:
        connection.sendall(b"GET /any HTTP/1.1\r\nhost: x\r\n")  # and no blank line
        status, body = status_and_body(read_until_closed(connection))
    assert status == 408
    assert json.loads(body)["code"] == "INVALID_ARGUMENT"


def test_a_connection_that_never_sends_a_byte_is_closed(port: int) -> None:
    with connect(port) as connection:
        status, _ = status_and_body(read_until_closed(connection))
    assert status == 408


def test_a_body_that_stops_coming_ends_its_connection_and_the_app_sees_the_caller_gone(
    port: int, app: BodyReader
) -> None:
    app.disconnected.clear()
    with connect(port) as connection:
        connection.sendall(b"POST /any HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\nhello")
        assert read_until_closed(connection) == b""
    assert app.disconnected.wait(5)


def test_a_body_sent_slowly_but_in_time_is_read_whole(port: int) -> None:
    with connect(port) as connection:
        connection.sendall(b"POST /any HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nhello")
        time.sleep(BODY_SECONDS / 3)
        connection.sendall(b"world")
        assert status_and_body(read_response(connection)) == (200, b"10")
