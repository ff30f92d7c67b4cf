"""A newly published snapshot is served without a restart and without a failed request."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

from tests.api.service import VERIFIED_FRESH, Caller, crafted_history, score_history
from tests.factories import AS_OF

OLD, NEW = "2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"


def test_a_new_snapshot_is_swapped_in_under_concurrent_requests(
    swap_caller: tuple[Caller, Path], tmp_path: Path
) -> None:
    caller, scores = swap_caller
    statuses: list[int] = []
    seen: list[list[str]] = [[] for _ in range(4)]  # each thread's as_of answers, in order
    stop = threading.Event()

    def hammer(answers: list[str]) -> None:
        while not stop.is_set():
            response = caller.post("/v1/check", {"phone": VERIFIED_FRESH})
            statuses.append(response.status_code)
            if response.status_code == 200:
                answers.append(response.json()["as_of"])

    threads = [threading.Thread(target=hammer, args=(answers,)) for answers in seen]
    for thread in threads:
        thread.start()
    # publish a newer run into the served folder by rename, as `ownership score` does
    newer = score_history(crafted_history(), tmp_path, as_of=AS_OF + timedelta(days=1))
    (newer / "snapshot.bin").replace(scores / "snapshot.bin")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(
        answers and answers[-1] == NEW for answers in seen
    ):
        time.sleep(0.05)
    time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join()

    assert statuses and set(statuses) == {200}
    for answers in seen:
        assert answers[0] == OLD
        assert answers[-1] == NEW
        # each caller sees the old snapshot, then the new one, never the old one again
        swapped = answers.index(NEW)
        assert set(answers[:swapped]) == {OLD}
        assert set(answers[swapped:]) == {NEW}


def test_the_snapshot_gauges_follow_the_file_even_to_an_earlier_run(
    swap_caller: tuple[Caller, Path], tmp_path: Path
) -> None:
    caller, scores = swap_caller
    assert "ownership_snapshot_as_of_seconds 1.780272e+09" in caller.get("/metrics").text

    earlier = score_history(crafted_history(), tmp_path, as_of=AS_OF - timedelta(days=1))
    (earlier / "snapshot.bin").replace(scores / "snapshot.bin")
    deadline = time.monotonic() + 20
    while caller.post("/v1/check", {"phone": VERIFIED_FRESH}).json()["as_of"] == OLD:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    # a day before: what the served file says, not the highest value any worker once saw
    assert "ownership_snapshot_as_of_seconds 1.7801856e+09" in caller.get("/metrics").text
