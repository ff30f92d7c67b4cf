"""`ownership serve --workers N` starts its workers one by one, and a Ctrl-C or SIGTERM while
they start stops those started so far, and starts no more."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

from api.workers import Workers, _serve_one


@dataclass
class StartedWorker:
    """What the supervisor sees of a worker process it started."""

    pid: int
    stopped: bool = False

    def is_alive(self) -> bool:
        return not self.stopped

    def join(self, timeout: float | None = None) -> None:
        return None

    def kill(self) -> None:
        self.stopped = True


def test_a_signal_while_the_workers_start_starts_no_more(monkeypatch: pytest.MonkeyPatch) -> None:
    workers = Workers(1000, "127.0.0.1", 0, {})
    started: list[StartedWorker] = []
    stopped: list[int] = []

    def start() -> StartedWorker:
        started.append(StartedWorker(pid=len(started) + 1))
        if len(started) == 3:  # Ctrl-C, as the third starts
            workers._stop(2, None)
        return started[-1]

    monkeypatch.setattr(workers, "_start", start)
    monkeypatch.setattr("api.workers.os.kill", lambda pid, signal: stopped.append(pid))

    assert workers.run() == 0
    assert len(started) == 3
    assert stopped == [1, 2, 3]


def test_a_worker_whose_supervisor_died_while_it_started_does_not_serve() -> None:
    """Its parent is then init (or a subreaper), which the watch would take for its own."""
    gone = os.getppid() + 1  # not this process's parent: the one that started it is gone

    with pytest.raises(SystemExit) as exit_:
        _serve_one({}, "127.0.0.1", 0, gone)

    assert exit_.value.code == 0
