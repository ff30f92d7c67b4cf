"""The limit: read every event once with bare DuckDB and aggregate per number.

python bench/baseline_duckdb.py HISTORY_DIR OUT.parquet [MEMORY_LIMIT]
"""

from __future__ import annotations

import sys

import duckdb

KINDS = ("code_entries", "sms_deliveries", "registrations", "number_changes", "verifications")


def main() -> int:
    events, out = sys.argv[1], sys.argv[2]
    con = duckdb.connect()
    if len(sys.argv) > 3:
        con.execute("set memory_limit = ?", [sys.argv[3]])
    relations = [
        con.read_parquet(f"{events}/{kind}/*.parquet").select("phone, ts") for kind in KINDS
    ]
    union = relations[0]
    for relation in relations[1:]:
        union = union.union(relation)
    union.aggregate(
        "cast(substr(phone, 2) as bigint) as phone, count(*) as events, "
        "min(ts) as first_at, max(ts) as last_at",
        "phone",
    ).write_parquet(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
