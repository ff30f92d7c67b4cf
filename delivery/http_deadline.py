"""An HTTP client whose deadline bounds each exchange as a whole, for the sync code that sends.

httpx's timeouts bound each step (connect, every read) but not the exchange, so a peer that
answers a byte at a time holds a call for as long as it likes, and with it the lease or claim
that was sized for "longer than any call lasts". Here every exchange runs as a coroutine on an
event loop of the client's own, under `asyncio.timeout`, which cancels it at the deadline and
closes its connection; the calling threads only wait for their exchange. Used by the webhook
sender (`delivery/webhooks/dispatcher.py`) and the channel gateways (`delivery/channels/http.py`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Self, TypeVar

import httpx

T = TypeVar("T")


class DeadlineClient:
    """An `httpx.AsyncClient` on a loop thread of its own; `run` bounds an exchange whole.

    Redirects are not followed: a peer moves its endpoint by telling us, not by redirecting
    what we send (signed bodies, bearer tokens) elsewhere.
    """

    def __init__(
        self,
        seconds: float,
        *,
        name: str,
        base_url: str = "",
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.seconds = seconds
        self.http = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=seconds,
            transport=transport,
            follow_redirects=False,
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()
        self._closed = False

    def run(self, exchange: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
        """`exchange(client)`'s result; `TimeoutError` if it has not ended within the deadline
        (its connection is closed then), or whatever else it raises."""
        if self._closed:
            raise RuntimeError("the HTTP client is closed")
        return asyncio.run_coroutine_threadsafe(self._bounded(exchange), self._loop).result()

    async def _bounded(self, exchange: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
        async with asyncio.timeout(self.seconds):
            return await exchange(self.http)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        asyncio.run_coroutine_threadsafe(self.http.aclose(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


async def read_at_most(response: httpx.Response, size: int) -> bytes:
    """Up to `size` bytes of a streamed answer (a few more when a chunk ends past it), without
    reading an answer of any length whole."""
    read = b""
    async for chunk in response.aiter_bytes():
        read += chunk
        if len(read) >= size:
            break
    return read
