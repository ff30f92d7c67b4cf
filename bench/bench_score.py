"""Benchmark `ownership score` against the bare engine and the plain pandas way.

For each history size it times, in one run and on the same files:
  - `ownership score` (check, models, publish), the product;
  - a bare DuckDB query that reads every event once and aggregates per number (the limit),
    and the same reading every column the rules use once (the floor for any real rules);
  - the same features and classification in plain pandas (bench/baseline_pandas.py, what a
    user would write instead; a test shows it agrees with the SQL), up to --pandas-max events.
Each is a separate process, so its peak RSS is its own (from wait4). Figures are medians.

    python bench/bench_score.py --events 1e6 1e7 1e8 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# events a number: sparse, so that 10^8 events span 10^7 numbers (the shape), or the
# generator's realistic default, about 126 over two years (docs/synth.md, "Density")
DENSITIES = {"sparse": 10, "realistic": 126}

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_rss_bytes: int


def measure(command: list[str]) -> Measurement:
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(command)}")
    return Measurement(elapsed, usage.ru_maxrss * 1024)


def median(runs: list[Measurement]) -> Measurement:
    return Measurement(
        statistics.median(run.seconds for run in runs),
        int(statistics.median(run.peak_rss_bytes for run in runs)),
    )


def history(events: int, density: str, work: Path) -> tuple[Path, int]:
    """A generated history of about `events` events, made once and kept for later runs."""
    per_phone = DENSITIES[density]
    phones = max(1, events // per_phone)
    suffix = "" if density == "sparse" else f"-{density}"
    folder = work / f"history-{events:.0e}{suffix}".replace("+", "")
    meta = folder / "truth" / "meta.json"
    if not meta.exists():
        print(f"generating {phones:,} numbers into {folder} ...", flush=True)
        subprocess.run(
            [
                PYTHON,
                "-m",
                "pipelines.cli",
                "synth",
                "--phones",
                str(phones),
                "--seed",
                "1",
                "--out",
                str(folder),
                # the realistic density is the generator's own default
                *(["--events-per-phone", str(per_phone)] if density == "sparse" else []),
            ],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return folder, _count(folder)


def _count(folder: Path) -> int:
    import pyarrow.parquet as pq

    return sum(
        pq.ParquetFile(path).metadata.num_rows
        for kind in (
            "code_entries",
            "sms_deliveries",
            "registrations",
            "number_changes",
            "verifications",
        )
        for path in (folder / kind).glob("*.parquet")
    )


def as_of_of(folder: Path) -> str:
    return str(json.loads((folder / "truth" / "meta.json").read_text())["end"])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=float, nargs="+", default=[1e6, 1e7])
    parser.add_argument(
        "--density",
        choices=DENSITIES,
        default="sparse",
        help="events a number: sparse (10, the issue's 10^8 over 10^7 numbers) or realistic (~126)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pandas-max", type=float, default=1e7)
    parser.add_argument("--memory-limit", default=None, help="passed to score and the bare query")
    parser.add_argument("--work", type=Path, default=ROOT / "var" / "bench")
    args = parser.parse_args()

    rows = []
    for size in (int(value) for value in args.events):
        folder, events = history(size, args.density, args.work)
        out = folder.with_name(folder.name.replace("history", "out", 1))
        out.mkdir(parents=True, exist_ok=True)
        limit = ["--memory-limit", args.memory_limit] if args.memory_limit else []
        contenders = {
            "ownership score": [
                PYTHON,
                "-m",
                "pipelines.cli",
                "score",
                "--events",
                str(folder),
                "--out",
                str(out / "score"),
                "--as-of",
                as_of_of(folder),
                *limit,
            ],
            "bare DuckDB scan-aggregate": [
                PYTHON,
                str(BENCH / "baseline_duckdb.py"),
                str(folder),
                str(out / "bare.parquet"),
                *limit,
            ],
            "bare DuckDB, every column once": [
                PYTHON,
                str(BENCH / "baseline_duckdb.py"),
                str(folder),
                str(out / "bare-wide.parquet"),
                "--wide",
                *limit,
            ],
        }
        if size <= args.pandas_max:
            contenders["pandas, same features"] = [
                PYTHON,
                str(BENCH / "baseline_pandas.py"),
                str(folder),
                str(out / "pandas.parquet"),
                "--as-of",
                as_of_of(folder),
            ]
        results: dict[str, list[Measurement]] = {name: [] for name in contenders}
        for _ in range(args.repeat):  # interleaved, so noise hits every contender alike
            for name, command in contenders.items():
                results[name].append(measure(command))
        medians = {name: median(runs) for name, runs in results.items()}
        for name, result in medians.items():
            rows.append(
                (
                    events,
                    name,
                    result,
                    medians["bare DuckDB scan-aggregate"],
                    medians["ownership score"],
                )
            )
            print(
                f"{events:>13,} {name:<32} {result.seconds:8.2f} s "
                f"{events / result.seconds:>14,.0f} ev/s {result.peak_rss_bytes / 2**30:6.2f} GiB",
                flush=True,
            )

    print("\n| events | contender | wall s (median) | events/s | peak RSS GiB | × bare | × score |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for events, name, result, bare, ours in rows:
        print(
            f"| {events:,} | {name} | {result.seconds:.2f} | {events / result.seconds:,.0f} | "
            f"{result.peak_rss_bytes / 2**30:.2f} | {result.seconds / bare.seconds:.2f} | "
            f"{result.seconds / ours.seconds:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
