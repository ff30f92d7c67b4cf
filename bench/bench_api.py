"""Benchmark the check API: over HTTP against a constant endpoint, and in process.

In one run, on 127.0.0.1 only, bounded in requests and seconds:
  - HTTP: `POST /v1/check` against `POST /v1/ping` (a constant answer behind the same OAuth
    1.0a auth, in the same server), at 1 connection and at 64: requests/s, p50 and p99.
    Requests are signed before the clock starts, each with its own nonce.
  - HTTP: bulk checks of --bulk-numbers numbers, in calls of 10,000.
  - In process: the cost of one lookup and of one whole check in µs, and of a bulk check.
  - The snapshot: bytes per number, and the time to load one of --load-numbers numbers.
The snapshots are synthetic (random numbers and verdicts, each with reasons of its own status,
in combinations the rules make): every number fits its 32 bytes, as a scored one does.

    python bench/bench_api.py --numbers 1e6 --load-numbers 1e7 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import requests
from loadgen import LoadResult, http_request, run_load  # bench/loadgen.py, beside this file
from requests_oauthlib import OAuth1

from api.checks import CheckOptions, check_number, check_numbers, find_number
from ownership.policy import Policy
from ownership.verdicts import REASON_ORDER, Reason, Status
from pipelines.snapshot import BYTES_PER_NUMBER, Snapshot, reason_columns, write_snapshot

ROOT = Path(__file__).resolve().parent.parent
OWNERSHIP = str(Path(sys.executable).with_name("ownership"))
AS_OF = datetime(2026, 11, 1)
EPOCH = datetime(1970, 1, 1)
BATCH = 1_000_000
# Requests sent before each measured phase, so that it finds the workers' connections open and
# their code paths warm; they come on top of the --requests measured.
WARM_UP = 200


# the reasons of each status (ownership.verdicts)
REASONS_OF = {
    Status.OWNER_CHANGED: (
        "PROFILE_MISMATCH",
        "NUMBER_CHANGE_REPORTED",
        "SMS_PERMANENT_FAILURES",
        "OWNER_DENIED",
    ),
    Status.VERIFIED: (
        "RECENT_CODE_ENTRY",
        "RECENT_CONFIRMATION",
        "STEADY_SMS_DELIVERY",
        "PROFILES_MATCH",
    ),
    Status.SUSPICIOUS: (
        "SPARSE_CODE_ENTRIES",
        "ONLY_REGISTRATION_CODE",
        "NO_RECENT_CODE",
        "SMS_GAP",
    ),
}


def _seconds(moment: datetime) -> int:
    return int((moment - EPOCH).total_seconds())


def synthetic_batches(count: int, seed: int) -> Iterator[pa.RecordBatch]:
    """`count` numbers (+79…, sorted, distinct) with random verdicts, in classification form."""
    rng = np.random.default_rng(seed)
    keys = np.unique(rng.integers(79_000_000_000, 79_999_999_999, size=int(count * 1.02)))
    keys = np.sort(rng.choice(keys, size=count, replace=False))
    as_of = _seconds(AS_OF)
    statuses = np.array([status.value for status in Status if status is not Status.UNKNOWN])
    for start in range(0, count, BATCH):
        phone = keys[start : start + BATCH]
        size = len(phone)
        times = as_of - rng.integers(0, 700 * 86_400, size=size)
        columns: dict[str, np.ndarray] = {
            "phone": phone,
            "status": statuses[rng.integers(0, len(statuses), size=size)],
            "risk_score": rng.integers(0, 1001, size=size),
            "owner_since": times,
            "last_code_at": times + rng.integers(0, 86_400 * 30, size=size),
            "last_confirmed_at": np.where(rng.random(size) < 0.1, times, 0),
        }
        # as the scores: an owner_changed number has no last confirmation
        changed = columns["status"] == Status.OWNER_CHANGED.value
        columns["last_confirmed_at"] = np.where(changed, 0, columns["last_confirmed_at"])
        for reason in REASON_ORDER:
            flag, at = reason_columns(reason)
            own = np.isin(
                columns["status"],
                [status.value for status, names in REASONS_OF.items() if reason.value in names],
            )
            columns[flag] = own & (rng.random(size) < 0.2)
            columns[at] = times - rng.integers(0, 86_400 * 30, size=size)
        # no rule makes a number's codes both sparse and only its registration's
        only_registration = reason_columns(Reason.ONLY_REGISTRATION_CODE)[0]
        sparse = reason_columns(Reason.SPARSE_CODE_ENTRIES)[0]
        columns[only_registration] &= ~columns[sparse]
        for name in ("vk_bound", "vk_active", "vk_mobile_app", "ok_bound", "ok_active"):
            columns[name] = rng.random(size) < 0.6
        columns["ok_mobile_app"] = rng.random(size) < 0.3
        yield pa.RecordBatch.from_pydict(columns)


def build_snapshot(path: Path, count: int, seed: int = 7) -> Path:
    if not path.exists():
        write_snapshot(
            path,
            synthetic_batches(count, seed),
            count=count,
            as_of=_seconds(AS_OF),
            coverage_from=_seconds(AS_OF - timedelta(days=730)),
        )
    return path


def in_process(snapshot: Snapshot, repeat: int) -> dict[str, float]:
    keys = snapshot.columns["phone"]
    rng = random.Random(1)
    sample = [int(keys[rng.randrange(len(keys))]) for _ in range(20_000)]
    now, policy, options = AS_OF + timedelta(hours=6), Policy(), CheckOptions()

    def per_call_us(run: object) -> float:
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            for key in sample:
                run(key)  # type: ignore[operator]
            timings.append((time.perf_counter() - started) / len(sample) * 1e6)
        return statistics.median(timings)

    lookup_us = per_call_us(snapshot.lookup)
    check_us = per_call_us(
        lambda key: check_number(snapshot, *find_number(snapshot, f"+{key}"), options, now, policy)
    )
    # a client's numbers come in no particular order
    drawn = np.random.default_rng(2).choice(np.asarray(keys), size=1_000_000)
    phones = [f"+{key}" for key in drawn.tolist()]
    bulk_s = []
    for _ in range(repeat):
        started = time.perf_counter()
        for start in range(0, len(phones), 10_000):
            check_numbers(snapshot, phones[start : start + 10_000], options, now, policy)
        bulk_s.append(time.perf_counter() - started)
    return {
        "lookup_us": round(lookup_us, 2),
        "check_number_us": round(check_us, 2),
        "bulk_1e6_in_process_s": round(statistics.median(bulk_s), 3),
    }


def load_time(path: Path, repeat: int) -> dict[str, float]:
    """Opening (mapping) the snapshot, and a first lookup; then touching every page."""
    opened, first, touched = [], [], []
    for _ in range(repeat):
        started = time.perf_counter()
        snapshot = Snapshot(path)
        opened.append(time.perf_counter() - started)
        snapshot.lookup(79_234_567_823)
        first.append(time.perf_counter() - started)
        for column in snapshot.columns.values():
            int(np.asarray(column).sum(dtype=np.uint64))
        touched.append(time.perf_counter() - started)
    return {
        "open_ms": round(statistics.median(opened) * 1000, 3),
        "open_and_first_lookup_ms": round(statistics.median(first) * 1000, 3),
        "open_and_read_all_s": round(statistics.median(touched), 3),
        "size_bytes": path.stat().st_size,
    }


def _absolute_pythonpath() -> dict[str, str]:
    """PYTHONPATH with its folders made absolute, for a process started in another folder."""
    given = os.environ.get("PYTHONPATH")
    if not given:
        return {}
    folders = (str(Path(folder).resolve()) for folder in given.split(os.pathsep) if folder)
    return {"PYTHONPATH": os.pathsep.join(folders)}


class Server:
    """`ownership serve` in a subprocess on a free loopback port, with a registered client."""

    def __init__(
        self,
        scores: Path,
        work: Path,
        workers: int,
        port: int,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = port
        self.env = {
            **os.environ,
            # the server runs in `work`: a relative PYTHONPATH (`.`, a tree being compared)
            # would name another folder there, and the installed code would be measured
            **_absolute_pythonpath(),
            "OWNERSHIP_SCORES_DIR": str(scores),
            "OWNERSHIP_DATABASE_URL": database_url or f"sqlite:///{work / 'bench.db'}",
            "OWNERSHIP_SECRET_KEY_FILE": str(work / "secret.key"),
            **(env or {}),
        }
        registered = subprocess.run(
            [OWNERSHIP, "clients", "add", f"bench-{port}", "--allow-ip", "127.0.0.1/32"],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        credentials = json.loads(registered.stdout)
        self.key, self.secret = credentials["key"], credentials["secret"]
        self.log = work / "server.log"  # the server's own account, if something goes wrong
        self.process = subprocess.Popen(
            [OWNERSHIP, "serve", "--port", str(port), "--workers", str(workers)],
            env=self.env,
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url("/healthz"), timeout=1).json()["status"] == "ok":
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("the server did not start")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def cli(self, *args: str) -> str:
        return subprocess.run(
            [OWNERSHIP, *args], env=self.env, check=True, capture_output=True, text=True
        ).stdout

    def signed(self, path: str, body: object) -> bytes:
        """A request signed now with a nonce of its own, as raw HTTP/1.1 bytes."""
        auth = OAuth1(
            self.key, self.secret, signature_method="HMAC-SHA256", force_include_body=True
        )
        prepared = requests.Request("POST", self.url(path), json=body, auth=auth).prepare()
        authorization = prepared.headers["Authorization"]
        if isinstance(authorization, bytes):
            authorization = authorization.decode()
        headers = {"Authorization": authorization}
        headers["Content-Type"] = "application/json"
        payload = prepared.body if isinstance(prepared.body, bytes) else str(prepared.body).encode()
        return http_request("POST", path, self.port, headers, payload)

    def snapshot_sharing(self) -> list[dict[str, int]]:
        """How each worker holds the snapshot's pages: shared with the others, or its own."""
        workers = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                parent = int((entry / "stat").read_text().split()[3])
                smaps = (entry / "smaps").read_text()
            except OSError:
                continue
            if parent != self.process.pid or "snapshot.bin" not in smaps:
                continue
            sizes = {"rss_kb": 0, "shared_kb": 0, "private_kb": 0}
            block = smaps.split("snapshot.bin", 1)[1].split("VmFlags", 1)[0]
            for line in block.splitlines():
                name, _, value = line.partition(":")
                if name == "Rss":
                    sizes["rss_kb"] += int(value.split()[0])
                elif name in ("Shared_Clean", "Shared_Dirty"):
                    sizes["shared_kb"] += int(value.split()[0])
                elif name in ("Private_Clean", "Private_Dirty"):
                    sizes["private_kb"] += int(value.split()[0])
            workers.append(sizes)
        return workers

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def http_phase(
    server: Server, path: str, phones: list[str], connections: int, count: int, seconds: float
) -> LoadResult:
    """`count` requests measured, after WARM_UP more that are not (each signed with a nonce of
    its own, so none can be sent twice)."""
    rng = random.Random(connections)
    total = WARM_UP + count
    bodies = [{"phone": phones[rng.randrange(len(phones))]} for _ in range(total)]
    if path == "/v1/ping":
        bodies = [{} for _ in range(total)]
    prepared = [server.signed(path, body) for body in bodies]
    run_load(server.port, prepared[:WARM_UP], connections, seconds)
    return run_load(server.port, prepared[WARM_UP:], connections, seconds)


def http_bulk(
    server: Server, phones: list[str], connections: int, repeat: int
) -> dict[str, object]:
    """`phones` in calls of 10,000 over `connections` connections; the median of `repeat` runs."""
    calls = [phones[start : start + 10_000] for start in range(0, len(phones), 10_000)]
    runs = []
    for _ in range(repeat):
        prepared = [server.signed("/v1/check/bulk", {"phones": call}) for call in calls]
        runs.append(run_load(server.port, prepared, connections, max_seconds=120))
    seconds = statistics.median(run.seconds for run in runs)
    return {
        "numbers": len(phones),
        "calls": len(calls),
        "connections": connections,
        "seconds": round(seconds, 3),
        "runs_s": [round(run.seconds, 3) for run in runs],
        "failures": sum(run.failures for run in runs),
        "numbers_per_s": round(len(phones) / seconds),
    }


def median_summary(runs: list[LoadResult]) -> dict[str, float]:
    summaries = [run.summary() for run in runs]
    return {
        name: statistics.median(summary[name] for summary in summaries)
        for name in ("rps", "p50_ms", "p99_ms")
    } | {
        "requests": sum(run.requests for run in runs),
        "failures": sum(run.failures for run in runs),
    }


def http_compare(
    server: Server, phones: list[str], connections: int, count: int, seconds: float, repeat: int
) -> dict[str, object]:
    """`/v1/check` against `/v1/ping`, interleaved `repeat` times; medians and their ratio."""
    pings, checks = [], []
    for _ in range(repeat):
        pings.append(http_phase(server, "/v1/ping", phones, connections, count, seconds))
        checks.append(http_phase(server, "/v1/check", phones, connections, count, seconds))
    ping, check = median_summary(pings), median_summary(checks)
    return {"ping": ping, "check": check, "check_share_of_ping_rps": share_of(check, ping)}


def share_of(check: Mapping[str, float], ping: Mapping[str, float]) -> float | None:
    """check's requests/s as a share of ping's; None (null in the report) when ping measured
    nothing, as a phase cut off by --seconds before its first answer does."""
    if not ping["rps"]:
        return None
    return round(check["rps"] / ping["rps"], 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--numbers", type=float, default=1e6, help="numbers in the served snapshot")
    parser.add_argument("--load-numbers", type=float, default=1e7, help="numbers for load time")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--requests",
        type=int,
        default=5_000,
        help=f"requests measured per HTTP phase at 1 connection, 4 times as many at 64; "
        f"{WARM_UP} more go first, unmeasured",
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="time bound per phase")
    parser.add_argument("--bulk-numbers", type=float, default=1e6)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--port", type=int, default=18_765)
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "bench" / "api")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    served = int(args.numbers)
    scores = args.work / f"scores-{served:.0e}".replace("+", "")
    scores.mkdir(exist_ok=True)
    snapshot_path = build_snapshot(scores / "snapshot.bin", served)
    loaded = build_snapshot(
        args.work / f"load-{int(args.load_numbers):.0e}.bin".replace("+", ""),
        int(args.load_numbers),
    )
    snapshot = Snapshot(snapshot_path)
    report: dict[str, object] = {
        "snapshot_bytes_per_number": BYTES_PER_NUMBER,
        "snapshot_file_bytes_per_number": round(snapshot_path.stat().st_size / served, 3),
        "load": {"numbers": int(args.load_numbers), **load_time(loaded, args.repeat)},
        "in_process": {"numbers": served, **in_process(snapshot, args.repeat)},
    }
    phones = [f"+{int(key)}" for key in snapshot.columns["phone"][:: max(1, served // 100_000)]]
    drawn = np.random.default_rng(3).choice(
        np.asarray(snapshot.columns["phone"]), int(args.bulk_numbers)
    )
    bulk_phones = [f"+{key}" for key in drawn.tolist()]
    with tempfile.TemporaryDirectory(dir=args.work) as work:
        server = Server(scores, Path(work), args.workers, args.port)
        try:
            http: dict[str, object] = {"workers": args.workers}
            for connections in (1, 64):
                count = args.requests if connections == 1 else args.requests * 4
                http[f"connections_{connections}"] = http_compare(
                    server, phones, connections, count, args.seconds, args.repeat
                )
            # two calls in flight per worker, so that a worker never waits for the client
            http["bulk"] = http_bulk(server, bulk_phones, 2 * args.workers, args.repeat)
            http["snapshot_mapping_per_worker"] = server.snapshot_sharing()
            report["http"] = http
        finally:
            server.stop()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
