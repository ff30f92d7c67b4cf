"""The limit: read every event once with bare DuckDB and aggregate per number.

    python bench/baseline_duckdb.py HISTORY_DIR OUT.parquet [--wide] [--memory-limit 8GB]

By default it reads phone and time of every event, the floor the issue names. With --wide it
reads every column the models use, once, with one aggregate per kind joined per number: the
floor for any pipeline that looks at products, statuses and accounts at all.
"""

from __future__ import annotations

import argparse

import duckdb

KINDS = ("code_entries", "sms_deliveries", "registrations", "number_changes", "verifications")
WIDE_AGGREGATES = {
    "code_entries": "count(*) as codes, max(ts) as last_code_at, "
    "count(distinct account_id) as code_accounts, "
    "count(case when product in ('vk', 'ok') then 1 end) as social_codes",
    "sms_deliveries": "count(*) as sms, max(ts) as last_sms_at, "
    "count(case when status = 'delivered' then 1 end) as delivered, "
    "count(case when error = 'unknown_subscriber' then 1 end) as permanent_failures",
    "registrations": "count(*) as registrations, max(ts) as last_registration_at, "
    "count(distinct name_key) as names, count(distinct birth_date) as birth_dates, "
    "count(distinct gender) as genders",
    "number_changes": "count(*) as changes, max(ts) as last_change_at",
    "verifications": "count(*) as verifications, "
    "count(case when result = 'denied' then 1 end) as denials",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("events")
    parser.add_argument("out")
    parser.add_argument("--wide", action="store_true")
    parser.add_argument("--memory-limit", default=None)
    args = parser.parse_args()
    con = duckdb.connect()
    if args.memory_limit:
        con.execute("set memory_limit = ?", [args.memory_limit])
    if args.wide:
        result = None
        for kind, aggregates in WIDE_AGGREGATES.items():
            per_number = con.read_parquet(f"{args.events}/{kind}/*.parquet").aggregate(
                f"cast(substr(phone, 2) as bigint) as phone, {aggregates}", "phone"
            )
            result = per_number if result is None else result.join(per_number, "phone", "outer")
        assert result is not None
        result.write_parquet(args.out)
        return 0
    relations = [
        con.read_parquet(f"{args.events}/{kind}/*.parquet").select("phone, ts") for kind in KINDS
    ]
    union = relations[0]
    for relation in relations[1:]:
        union = union.union(relation)
    union.aggregate(
        "cast(substr(phone, 2) as bigint) as phone, count(*) as events, "
        "min(ts) as first_at, max(ts) as last_at",
        "phone",
    ).write_parquet(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
