"""The HTTP protocol the API's uvicorn workers speak: uvicorn's own, with Nagle's algorithm off
and bounds on what a caller may hold before the app ever sees its request.

uvicorn bounds neither the size of a request's head nor the time it takes to arrive, nor the
time its body takes: anyone who can reach the port, unauthenticated, could hold a worker's
memory with one endless header, or its connections with heads and bodies sent a byte at a time.
Here a head over `HEAD_LIMIT` bytes is answered 431 and the connection closed; a head not whole
`HEAD_SECONDS` after its first byte (or after the connection opened) is answered 408, both in
the API's envelope (INVALID_ARGUMENT, the status telling which); a body not
whole `BODY_SECONDS` after its head ends the connection (the app, awaiting it, sees the caller
gone, as it does a caller that hangs up).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from contextlib import suppress
from http import HTTPStatus

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.error_codes import ErrorCode

log = logging.getLogger(__name__)

# the request line and headers together: a signed call's are under 2 KiB
HEAD_LIMIT = 64 * 1024
HEAD_SECONDS = 10.0
BODY_SECONDS = 60.0
# a chunk's framing around its data: its size in hex (a 64-bit size is 16 digits), its line
# break, and the line break after its data
CHUNK_FRAMING = 16 + 2 + 2


class ServerHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, TCP_NODELAY on every connection, heads and bodies bounded."""

    head_limit = HEAD_LIMIT
    head_seconds = HEAD_SECONDS
    body_seconds = BODY_SECONDS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # Worker processes accept on a socket inherited from the supervisor, which asyncio does
        # not recognise as TCP, so it leaves Nagle on: a response's head and body then wait for
        # the client's delayed ACK, 40 ms a request on a keep-alive connection.
        connection = transport.get_extra_info("socket")
        if connection is not None and connection.family in (socket.AF_INET, socket.AF_INET6):
            with suppress(OSError):
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self._head_bytes = 0
        self._awaiting_head = True
        self._head_ended = False
        # the head as parsed: its request line and headers, counted as they are read
        self._parsed_head = 0
        # once refused, nothing more read on the connection reaches the app
        self._refused = False
        # a request's framing past its head (chunk sizes, a chunked body's trailer fields),
        # which the parser holds as it does a head: what reads held beyond the body and the
        # chunks' own framing, the body's bytes, the chunks
        self._framing_bytes = 0
        self._body_bytes = 0
        self._chunks = 0
        # whether the head being read has more than the line breaks a client may send
        # between requests, and how many requests the connection has carried
        self._head_has_text = False
        self._served = 0
        self._deadline: asyncio.TimerHandle | None = None
        # a connection that never sends a byte holds a socket as surely as a slow head
        self._arm(self.head_seconds, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        awaiting, served = self._awaiting_head, self._served
        body_bytes, chunks = self._body_bytes, self._chunks
        if awaiting:
            self._head_has_text = self._head_has_text or bool(data.strip(b"\r\n"))
            if self._deadline is None and not self._answering():
                self._arm(self.head_seconds, self._head_too_slow)
        self._head_ended = False
        super().data_received(data)
        # a chunk in which the message ended is not counted (the rest may be the next requests)
        if not awaiting and self._served == served and not self._refused:
            # a chunk's size line and its data's line break are a few bytes; beyond those,
            # what a read holds that is not the body (trailer fields) is held to a head's
            # bound. Read by read: tiny chunks' unspent allowance pays for nothing later.
            body = self._body_bytes - body_bytes
            framing = len(data) - body - CHUNK_FRAMING * (self._chunks - chunks)
            self._framing_bytes += max(framing, 0)
            if self._framing_bytes > self.head_limit and not self.transport.is_closing():
                log.warning(
                    "a request's chunked framing passed %s bytes; its connection was closed",
                    f"{self.head_limit:,}",
                )
                self._refused = True
                self.transport.close()
        # a chunk spent wholly in a head counts, before the parser holds all of it; one in which
        # a head ended is counted as parsed (the rest may be its body, or the next request)
        if awaiting and self._awaiting_head and not self._head_ended:
            self._head_bytes += len(data)
            if self._head_bytes > self.head_limit and not self.transport.is_closing():
                self._refuse(431, f"The request's head is larger than {self.head_limit:,} bytes")

    def on_message_begin(self) -> None:
        if self._refused:
            return
        self._parsed_head = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        if self._refused:
            return
        self._parsed_head += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused:
            return
        self._parsed_head += len(name) + len(value) + len(b": \r\n")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        # as sent, give or take the spaces around the values: "METHOD url HTTP/1.1\r\n",
        # the headers, and the blank line
        whole = len(self.parser.get_method()) + self._parsed_head + len(b"  HTTP/1.1\r\n\r\n")
        if whole > self.head_limit:
            self._refuse(431, f"The request's head is larger than {self.head_limit:,} bytes")
            return
        self._awaiting_head = False
        self._head_ended = True
        self._head_bytes = 0
        self._head_has_text = False
        self._framing_bytes = self._body_bytes = self._chunks = 0
        if self._answering():
            # queued behind a request still being answered, its body is not read until then
            # (uvicorn pauses reading): its clock would run while the caller cannot send
            self._disarm()
        else:
            self._arm(self.body_seconds, self._body_too_slow)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            self._body_bytes += len(body)
            super().on_body(body)

    def on_chunk_header(self) -> None:
        self._chunks += 1

    def on_message_complete(self) -> None:
        if self._refused:
            return
        # the next bytes begin the next request's head, whose clock starts with them once
        # no request is being answered
        self._awaiting_head = True
        self._served += 1
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        # the request queued next behind the one answered starts now (uvicorn takes the
        # oldest, from the right): if its body is still to come, its clock starts with it
        next_up = self.pipeline[-1][0] if self.pipeline else None
        super().on_response_complete()
        if next_up is not None and not self._refused and next_up.more_body:
            self._arm(self.body_seconds, self._body_too_slow)

    def _should_upgrade(self) -> bool:
        # a refused request is no websocket: uvicorn would take it up on a scope never made
        return not self._refused and super()._should_upgrade()

    def _unsupported_upgrade_warning(self) -> None:
        if not self._refused:
            super()._unsupported_upgrade_warning()

    def _answering(self) -> bool:
        """Whether a request's response is still to be written: a deadline of the next
        request's must not answer in its place."""
        return self.cycle is not None and not self.cycle.response_complete

    def _arm(self, seconds: float, handler: object) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, handler)  # type: ignore[arg-type]

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_too_slow(self) -> None:
        self._deadline = None
        if self._awaiting_head and not self._answering() and not self.transport.is_closing():
            if self._served and not self._head_has_text:
                # line breaks after a request (RFC 9112 lets a client send them), then nothing:
                # an idle connection, closed as its keep-alive would be, unanswered
                self._disarm()
                self._refused = True
                self.transport.close()
                return
            self._refuse(408, f"The request's head was not whole within {self.head_seconds:g} s")

    def _body_too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            log.warning(
                "a request's body was not whole within %g s; its connection was closed",
                self.body_seconds,
            )
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        """Answer, in the API's envelope, before the request reached the app; then close. Behind
        a request still being answered (pipelined), answer nothing, which would be taken for
        that request's answer: the connection closes once that one is written."""
        self._disarm()
        self._awaiting_head = False
        self._refused = True
        if self._answering():
            # the earlier request is answered first; then uvicorn closes the connection
            self.cycle.keep_alive = False
            self.flow.pause_reading()
            return
        body = json.dumps(
            {"status": status, "code": ErrorCode.INVALID_ARGUMENT, "message": message}
        ).encode()
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, HTTPStatus(status).phrase.encode(), len(body), body)
        )
        self.transport.close()
