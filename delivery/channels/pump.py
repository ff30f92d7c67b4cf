"""Runs simulators on a live clock (the demo's `SystemClock` or `ScaledClock`): every `every`
seconds each simulator emits the events whose time has come. Tests need none of this: they
advance a `VirtualClock` and call `run_due()` themselves.

An event its handler could not take (the store down) is kept by its simulator and handed over
again later (`delivery.channels.schedule`); the failures are told as the jobs' are, a traceback
for the first of a kind, then a line a minute, and a line when events go through again."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Protocol

from delivery.channels import schedule


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
            except Exception as error:
                # a simulator keeps an event its handler fails, and tries it again itself: what
                # reaches here is a fault of the simulator's own, which must not stop the others
                schedule.FAILURES.failed(error, kept=False)
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
