"""Group commit done by the service: many callers' small writes, one transaction a batch.

A commit costs a round trip and, when durable, a disk flush; one per request caps a process at
a few hundred requests a second and keeps a thread waiting on each. Callers hand their item to
one writer thread a process and wait on a future: a thread blocks on it (`write`), a coroutine
awaits it without holding a thread (`write_async`). The writer takes whatever has gathered (up
to `max_batch`; with `max_wait`, it lingers that long for more) and writes it in one go, so
batches grow with the load on their own: while one commits, the next gathers.

A caller learns its own item's outcome. One item the database refuses (a value it cannot hold)
fails its whole transaction, so a batch that fails is written again one item at a time, each in
a transaction of its own: only an item that fails alone fails its caller, and every other
caller in the batch learns its own outcome. An error of the store rather than of an item (it is
unreachable, the connection broke, a lock or the pool timed out) is not retried so: each item
would only fail again, or, after a commit whose answer was lost, find itself written already.
It reaches every caller in the batch at once. An item whose caller gave up before its batch was
taken is not written.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


class GroupWriter(Generic[Item, Outcome]):
    def __init__(
        self,
        write_batch: Callable[[list[Item]], Sequence[Outcome]],
        *,
        name: str,
        max_batch: int = 256,
        max_wait: float = 0.0,
    ) -> None:
        """`write_batch` writes the items in one transaction and returns one outcome each, in
        order; it is called again with a one-item list for each item of a batch that failed."""
        self._write_batch = write_batch
        self.name = name
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._queue: queue.SimpleQueue[tuple[Item, Future[Outcome]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, item: Item) -> Future[Outcome]:
        """Queue `item` for the next batch; the future holds its outcome once committed."""
        future: Future[Outcome] = Future()
        self._ensure_running()
        self._queue.put((item, future))
        return future

    def write(self, item: Item) -> Outcome:
        """`item`'s outcome once its batch is committed; raises what the batch raised."""
        return self.submit(item).result()

    async def write_async(self, item: Item) -> Outcome:
        """The same, awaited on the event loop without holding a thread."""
        return await asyncio.wrap_future(self.submit(item))

    def _ensure_running(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def _gather(self) -> list[tuple[Item, Future[Outcome]]]:
        batch = [self._queue.get()]
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        while True:
            # a caller that gave up (a request cancelled by its client's disconnect) is left
            # out; the others can no longer give up, so each learns its outcome
            batch = [entry for entry in self._gather() if entry[1].set_running_or_notify_cancel()]
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[tuple[Item, Future[Outcome]]]) -> None:
        try:
            outcomes = self._write_batch([item for item, _ in batch])
        except BaseException as error:  # its callers learn of it; the writer goes on
            if len(batch) > 1 and _may_be_one_items_fault(error):
                log.info(
                    "%s: a batch of %d failed, written again item by item: %s",
                    self.name,
                    len(batch),
                    error,
                )
                for entry in batch:
                    self._commit([entry])
                return
            log.debug("%s: a batch of %d failed: %s", self.name, len(batch), error)
            for _, future in batch:
                future.set_exception(error)
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            future.set_result(outcome)


def _may_be_one_items_fault(error: BaseException) -> bool:
    """Whether writing a failed batch's items one at a time can tell the faulty item apart:
    not when the store itself failed, which would fail every item again."""
    if not isinstance(error, Exception):
        return False
    if isinstance(error, OperationalError | PoolTimeoutError):
        return False
    return not (isinstance(error, DBAPIError) and error.connection_invalidated)
