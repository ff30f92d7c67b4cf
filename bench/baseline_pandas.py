"""What a user would write instead: the per-number features and a status in plain pandas.

python bench/baseline_pandas.py HISTORY_DIR OUT.parquet
"""

from __future__ import annotations

import glob
import sys

import numpy as np
import pandas as pd

PERSON = ["name_key", "birth_date", "gender"]
WINDOW = pd.Timedelta(days=90)


def read(events: str, kind: str) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(path) for path in sorted(glob.glob(f"{events}/{kind}/*"))])


def features(events: str) -> pd.DataFrame:
    codes = read(events, "code_entries")
    sms = read(events, "sms_deliveries")
    registrations = read(events, "registrations").sort_values(["phone", "ts"])
    changes = read(events, "number_changes")
    verifications = read(events, "verifications")

    social = codes[codes["product"].isin(["vk", "ok"])]
    frame = social.groupby("phone")["ts"].agg(
        social_codes="count", first_code_at="min", last_code_at="max"
    )
    delivered = sms[sms["status"] == "delivered"].groupby("phone")["ts"]
    frame = frame.join(delivered.agg(delivered="count", last_delivered_at="max"), how="outer")
    permanent = sms[sms["error"] == "unknown_subscriber"].groupby("phone")["ts"]
    frame = frame.join(permanent.agg(permanent_failures="count"), how="outer")

    previous = registrations.groupby("phone")[PERSON].shift()
    current = registrations[PERSON]
    differing = ((current != previous) & previous.notna() & current.notna()).sum(axis=1)
    registrations["mismatch"] = differing >= 2
    frame = frame.join(
        registrations.groupby("phone").agg(
            registrations=("ts", "count"), mismatches=("mismatch", "sum")
        ),
        how="outer",
    )
    frame = frame.join(changes.groupby("phone")["ts"].agg(changes="count"), how="outer")
    denied = verifications[verifications["result"] == "denied"].groupby("phone")["ts"]
    frame = frame.join(denied.agg(denials="count"), how="outer")

    as_of = max(sms["ts"].max(), codes["ts"].max())
    changed = (
        (frame["mismatches"].fillna(0) > 0)
        | (frame["changes"].fillna(0) > 0)
        | (frame["permanent_failures"].fillna(0) >= 2)
        | (frame["denials"].fillna(0) > 0)
    )
    recent = frame["last_code_at"] >= as_of - WINDOW
    frame["status"] = np.select([changed, recent], ["owner_changed", "verified"], "suspicious")
    result: pd.DataFrame = frame.reset_index()
    return result


def main() -> int:
    features(sys.argv[1]).to_parquet(sys.argv[2])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
