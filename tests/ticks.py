"""A monotonic clock the test moves, for what counts seconds (the logs' quiet minute)."""

from __future__ import annotations


class Tick:
    """Seconds, as `time.monotonic` gives them, that the test sets or moves on."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now
