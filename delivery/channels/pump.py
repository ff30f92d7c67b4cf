"""Runs simulators on a live clock (the demo's `SystemClock` or `ScaledClock`): every `every`
seconds each simulator emits the events whose time has come. Tests need none of this: they
advance a `VirtualClock` and call `run_due()` themselves."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import Protocol

log = logging.getLogger(__name__)


class Runnable(Protocol):
    def run_due(self) -> int: ...


class SimulatorPump:
    def __init__(self, simulators: Sequence[Runnable], every: float = 0.05) -> None:
        if every <= 0:
            raise ValueError("a pump needs a positive period")
        self._simulators = tuple(simulators)
        self._every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        emitted = 0
        for simulator in self._simulators:
            try:
                emitted += simulator.run_due()
            except Exception:
                # a handler that fails must not stop the channels; the event is lost, as a
                # gateway's would be after its retries, and the notify service's sweeper copes
                log.exception("an inbound event failed in its handler")
        return emitted

    async def run_forever(self) -> None:
        """For an asyncio lifespan: `task = asyncio.create_task(pump.run_forever())`. The
        handlers are blocking (the store), so each round runs in a worker thread."""
        while True:
            await asyncio.to_thread(self.run_once)
            await asyncio.sleep(self._every)

    def start(self) -> None:
        """Pump from a daemon thread until `stop()`."""
        if self._thread is not None:
            raise RuntimeError("the pump is running")
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="simulator-pump", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            self.run_once()
