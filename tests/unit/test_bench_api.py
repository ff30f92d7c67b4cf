"""The API bench measures exactly the requests it is asked for, after its warm-up, and reports
no ratio rather than failing when a phase measured nothing."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest

from pipelines.paths import PROJECT_ROOT

BENCH_DIR = PROJECT_ROOT / "bench"
PHONES = ["+79230000001", "+79230000002"]


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """bench/ is not a package: the script is loaded by its path, beside its loadgen."""
    monkeypatch.syspath_prepend(str(BENCH_DIR))
    spec = importlib.util.spec_from_file_location("bench_api", BENCH_DIR / "bench_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class RecordingServer:
    """Signs nothing, and records the batches of requests each load run was given."""

    port: int = 0
    runs: list[int] = field(default_factory=list)
    answers: bool = True  # False: every run ends before its first answer

    def signed(self, path: str, body: object) -> bytes:
        return f"{path} {body}".encode()

    def run_load(self, port: int, requests: list[bytes], connections: int, seconds: float) -> Any:
        from loadgen import LoadResult

        self.runs.append(len(requests))
        answered = len(requests) if self.answers else 0
        return LoadResult(answered, 0, 1.0, [1.0] * answered)


@pytest.fixture
def server(bench: ModuleType, monkeypatch: pytest.MonkeyPatch) -> RecordingServer:
    recording = RecordingServer()
    monkeypatch.setattr(bench, "run_load", recording.run_load)
    return recording


@pytest.mark.parametrize("count", [200, 400, 5])
def test_each_phase_measures_the_requests_asked_after_a_warm_up_of_its_own(
    bench: ModuleType, server: RecordingServer, count: int
) -> None:
    compared = bench.http_compare(server, PHONES, 1, count, seconds=5.0, repeat=1)

    assert server.runs == [bench.WARM_UP, count] * 2  # ping, then check
    assert compared["ping"]["requests"] == compared["check"]["requests"] == count
    assert compared["check_share_of_ping_rps"] == 1.0


def test_a_ping_phase_that_measured_nothing_gives_no_ratio(
    bench: ModuleType, server: RecordingServer
) -> None:
    server.answers = False

    compared = bench.http_compare(server, PHONES, 1, 200, seconds=5.0, repeat=1)

    assert compared["ping"]["rps"] == 0
    assert compared["check_share_of_ping_rps"] is None
