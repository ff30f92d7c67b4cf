"""What an analyst would write instead of the SQL models: the same classification in pandas.

    python bench/baseline_pandas.py HISTORY_DIR OUT.parquet --as-of 2026-11-01

The same per-number features and rules as `pipelines/sql/models/*.sql` (DESIGN §4), with the
thresholds of `ownership.rules.RuleSettings`, written as plain vectorised pandas: boolean masks,
groupby/agg, merge, shift within groups, np.select. One function per model, in the models' order,
so that each can be read against its SQL. The output has the columns of `scores.parquet`
(phone, status, risk_score, reasons, reason_times, owner_since, first_seen_at, last_code_at,
last_confirmed_at, as_of), one row per number, sorted by phone.

It assumes clean input, which is what `ownership score` checks first: Parquet files only, E.164
phones, no missing times, known enum values, lowercase products. There is no validation and no
rejects file here. Rows later than as_of are left out; times are cut to whole seconds, as the
pipeline's epoch seconds are.

The benchmark times it against `ownership score`, and tests/integration/test_pandas_baseline.py
shows that both give the same scores on a generated history.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from ownership.rules import RuleSettings
from pipelines.contracts import load_contract
from pipelines.settings import load_settings

KINDS = ("code_entries", "sms_deliveries", "registrations", "number_changes", "verifications")
SOCIAL = ["vk", "ok"]
PERSON = ["name_key", "birth_date", "gender"]
EPOCH = pd.Timestamp(0)

PROFILE_MISMATCH = "PROFILE_MISMATCH"
NUMBER_CHANGE_REPORTED = "NUMBER_CHANGE_REPORTED"
SMS_PERMANENT_FAILURES = "SMS_PERMANENT_FAILURES"
OWNER_DENIED = "OWNER_DENIED"
CHANGE_REASONS = [PROFILE_MISMATCH, NUMBER_CHANGE_REPORTED, SMS_PERMANENT_FAILURES, OWNER_DENIED]
# the time of each reason's latest open piece of evidence, as int_tenures names it
CHANGE_TIMES = [
    "profile_mismatch_at",
    "number_change_at",
    "permanent_failure_at",
    "owner_denied_at",
]


# --- input ---------------------------------------------------------------------------------------


def load(events_dir: Path, as_of: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Every kind as a frame; events after as_of left out, times in whole seconds."""
    frames = {}
    for kind in KINDS:
        frame = pd.read_parquet(events_dir / kind)
        frame["ts"] = frame["ts"].dt.floor("s")
        frames[kind] = frame[frame["ts"] <= as_of].reset_index(drop=True)
    # the current state, not events: never cut by as_of
    frames["accounts"] = pd.read_parquet(events_dir / "accounts")
    return frames


def differing(left: pd.DataFrame, right: pd.DataFrame) -> pd.Series:
    """How many person fields are present on both sides and differ, row by row."""
    count = pd.Series(0, index=left.index)
    for column in PERSON:
        a, b = left[column], right[column]
        count += (a.notna() & b.notna() & (a != b)).astype(int)
    return count


def lookup(phones: pd.Series, per_number: pd.Series) -> pd.Series:
    """The per-number value for each row's phone (NaT where the number has none)."""
    # reindex rather than Series.map: map cannot take an empty datetime Series
    return pd.Series(per_number.reindex(phones).to_numpy(), index=phones.index)


def in_tenure(events: pd.DataFrame, tenure_start: pd.Series) -> pd.Series:
    """Whether each event falls within its number's current tenure (all of it, if no change)."""
    start = lookup(events["phone"], tenure_start)
    return start.isna() | (events["ts"] >= start)


# --- the models ----------------------------------------------------------------------------------


def registration_profiles(
    registrations: pd.DataFrame, accounts: pd.DataFrame, rules: RuleSettings
) -> pd.DataFrame:
    """int_profile_mismatches: each registration against the previous one and the bound ones."""
    keys = ["phone", "ts", "product", "account_id"]
    # the person fields break ties, so that the order is total
    ordered = registrations.sort_values([*keys, *PERSON], ignore_index=True)
    minimum = rules.profile_mismatch_min_fields
    # compared with the latest earlier registration that gives enough of the same fields; one
    # that shares fewer can tell no two people apart, and stands between no two
    ordered["seq"] = ordered.groupby("phone").cumcount()
    given = ordered[PERSON].notna()
    # for each set of `minimum` fields, the latest earlier registration giving all of them
    candidates = []
    for fields in combinations(PERSON, minimum):
        gives = given[list(fields)].all(axis=1)
        latest = ordered["seq"].where(gives).groupby(ordered["phone"]).ffill()
        earlier = latest.groupby(ordered["phone"]).shift()
        candidates.append(earlier.where(gives))
    earlier_seq = pd.concat(candidates, axis=1).max(axis=1)
    ordered["has_previous"] = earlier_seq.notna()
    previous = (
        ordered[["phone"]]
        .assign(seq=earlier_seq)
        .merge(ordered[["phone", "seq", *PERSON]], on=["phone", "seq"], how="left")
        .set_axis(ordered.index)
    )
    ordered["differing_fields"] = differing(ordered, previous[PERSON])

    # registrations of the accounts bound to the number now
    bound_accounts = accounts[["phone", "network", "account_id"]].rename(
        columns={"network": "product"}
    )
    bound = ordered.merge(bound_accounts, on=["phone", "product", "account_id"])
    pairs = ordered[[*keys, *PERSON]].merge(
        bound[["phone", "ts", "account_id", *PERSON]], on="phone", suffixes=("", "_bound")
    )
    pairs = pairs[
        (pairs["account_id"] != pairs["account_id_bound"]) & (pairs["ts"] > pairs["ts_bound"])
    ]
    bound_side = pairs[[f"{column}_bound" for column in PERSON]].set_axis(PERSON, axis=1)
    pairs = pairs.assign(differing_from_bound=differing(pairs, bound_side))
    against_bound = pairs.groupby(keys, as_index=False)["differing_from_bound"].max()

    profiles = ordered.merge(against_bound, on=keys, how="left")
    profiles["differing_from_bound"] = profiles["differing_from_bound"].fillna(0)
    profiles["is_profile_mismatch"] = (
        profiles["has_previous"] & (profiles["differing_fields"] >= minimum)
    ) | (profiles["differing_from_bound"] >= minimum)
    return profiles


def change_evidence(
    profiles: pd.DataFrame,
    number_changes: pd.DataFrame,
    verifications: pd.DataFrame,
    deliveries: pd.DataFrame,
) -> pd.DataFrame:
    """int_change_evidence: every event saying the number may have passed to someone else."""
    permanent = (deliveries["status"] == "failed") & (deliveries["error"] == "unknown_subscriber")
    parts = [
        (profiles[profiles["is_profile_mismatch"]], PROFILE_MISMATCH),
        (number_changes, NUMBER_CHANGE_REPORTED),
        (verifications[verifications["result"] == "denied"], OWNER_DENIED),
        (deliveries[permanent], SMS_PERMANENT_FAILURES),
    ]
    return pd.concat(
        [part[["phone", "ts"]].assign(reason=reason) for part, reason in parts],
        ignore_index=True,
    )


def holder_proofs(
    evidence: pd.DataFrame,
    codes: pd.DataFrame,
    registrations: pd.DataFrame,
    accounts: pd.DataFrame,
    verifications: pd.DataFrame,
) -> pd.DataFrame:
    """int_holder_proofs: last possession proof of the least proven bound account, per number,
    and when the last of the bound accounts first proved possession.

    Only numbers with change evidence; NaT where a bound account never proved possession. A
    number with no bound account counts any VK or OK code and any confirmation instead.
    """
    in_question = evidence["phone"].unique()
    account = ["phone", "network", "account_id"]
    bound_accounts = accounts.loc[accounts["phone"].isin(in_question), account].drop_duplicates()

    social_codes = codes[codes["product"].isin(SOCIAL) & codes["phone"].isin(in_question)]
    code_at = (
        social_codes.rename(columns={"product": "network"})
        .groupby(account)["ts"]
        .agg(code_at="max", first_code_at="min")
        .reset_index()
    )
    social_registrations = registrations[
        registrations["product"].isin(SOCIAL) & registrations["phone"].isin(in_question)
    ]
    registration_at = (
        social_registrations.rename(columns={"product": "network"})
        .groupby(account)["ts"]
        .agg(registration_at="max", first_registration_at="min")
        .reset_index()
    )
    confirmations = verifications[verifications["result"] == "confirmed"]
    # a confirmation names the account that was asked; one that names none speaks for all
    confirmed_account = (
        confirmations.groupby(["phone", "account_id"])["ts"]
        .max()
        .rename("confirmed_account_at")
        .reset_index()
    )
    confirmed_any = (
        confirmations[confirmations["account_id"].isna()]
        .groupby("phone")["ts"]
        .max()
        .rename("confirmed_any_at")
        .reset_index()
    )
    proofs = (
        bound_accounts.merge(code_at, on=account, how="left")
        .merge(registration_at, on=account, how="left")
        .merge(confirmed_account, on=["phone", "account_id"], how="left")
        .merge(confirmed_any, on="phone", how="left")
    )
    proofs["last_proof_at"] = proofs[
        ["code_at", "registration_at", "confirmed_account_at", "confirmed_any_at"]
    ].max(axis=1)
    proofs["first_proof_at"] = proofs[["first_code_at", "first_registration_at"]].min(axis=1)
    # the least proven account decides; one never proven makes the whole number unproven
    unproven = proofs["last_proof_at"].isna().groupby(proofs["phone"]).any()
    bound_numbers = proofs.groupby("phone")["last_proof_at"].min().where(~unproven)
    # when the last of the bound accounts first proved possession
    newest_account_since = proofs.groupby("phone")["first_proof_at"].max()

    unbound = ~social_codes["phone"].isin(bound_numbers.index)
    unbound_proofs = pd.concat(
        [
            social_codes.loc[unbound, ["phone", "ts"]],
            confirmations.loc[
                confirmations["phone"].isin(in_question)
                & ~confirmations["phone"].isin(bound_numbers.index),
                ["phone", "ts"],
            ],
        ]
    )
    unbound_numbers = unbound_proofs.groupby("phone")["ts"].max()
    result: pd.DataFrame = (
        pd.concat([bound_numbers, unbound_numbers]).rename("last_proof_at").to_frame()
    )
    # with no account bound, nothing tells the holders apart: newest_account_since stays NaT
    result["newest_account_since"] = newest_account_since.reindex(result.index)
    return result


def tenures(evidence: pd.DataFrame, proofs: pd.DataFrame, rules: RuleSettings) -> pd.DataFrame:
    """int_tenures: the current tenure's start and the evidence still open, per number."""
    proof = lookup(evidence["phone"], proofs["last_proof_at"])
    newest = lookup(evidence["phone"], proofs["newest_account_since"])
    is_unanswered = proof.isna() | (evidence["ts"] > proof)
    starts_tenure = newest.isna() | (evidence["ts"] <= newest)
    # what each piece of evidence stands for now: open, answered by a new holder, or refuted
    answer = pd.Series(
        np.select([is_unanswered, starts_tenure], ["open", "new holder"], "refuted"),
        index=evidence.index,
    )
    # unknown_subscriber reports count once permanent_failures_min of them, at distinct
    # moments (a report logged twice is one report), stand for the same thing
    is_failure = evidence["reason"] == SMS_PERMANENT_FAILURES
    failed = evidence.loc[is_failure, ["phone", "ts"]].assign(answer=answer[is_failure])
    failures = failed.groupby(["phone", "answer"])["ts"].transform("nunique")
    enough = failures.reindex(evidence.index) >= rules.permanent_failures_min
    keep = ~is_failure | enough
    counted = evidence[keep]
    is_unanswered, starts_tenure = is_unanswered[keep], starts_tenure[keep]

    unanswered = counted[is_unanswered]
    open_evidence = (
        unanswered.groupby(["phone", "reason"])["ts"]
        .max()
        .unstack("reason")
        .reindex(columns=CHANGE_REASONS)
        .astype(evidence["ts"].dtype)
    )
    last_open_at = unanswered.groupby("phone")["ts"].max()
    # answered evidence starts a tenure when a bound account first appeared at or after it
    starts = counted["ts"].where(starts_tenure)
    last_change_at = starts.groupby(counted["phone"]).max()

    result = pd.DataFrame(index=counted["phone"].unique())
    result.index.name = "phone"
    result["tenure_start"] = last_open_at.reindex(result.index).fillna(
        last_change_at.reindex(result.index)
    )
    result = result.join(open_evidence)
    result["is_open"] = result.index.isin(open_evidence.index)
    return result.rename(columns=dict(zip(CHANGE_REASONS, CHANGE_TIMES, strict=True)))


def code_features(
    codes: pd.DataFrame,
    registrations: pd.DataFrame,
    tenure_start: pd.Series,
    rules: RuleSettings,
) -> pd.DataFrame:
    """int_code_features: code entries per number, over all time and within the tenure."""
    account = ["phone", "product", "account_id"]
    # a code logged twice is one code
    codes = codes.drop_duplicates(["phone", "ts", "product", "account_id"])
    registered = registrations.groupby(account)["ts"].min().rename("registered_at").reset_index()
    marked = codes[["phone", "ts", "product", "account_id"]].merge(
        registered, on=account, how="left"
    )
    grace = pd.Timedelta(seconds=rules.registration_code_grace_seconds)
    # the registering account's own code, entered within the grace around its registration
    # (in a sign-up the code comes before the account exists)
    is_registration_code = (marked["ts"] >= marked["registered_at"] - grace) & (
        marked["ts"] <= marked["registered_at"] + grace
    )
    # a social code logged without its account: a registration's own code when an account of
    # its network registered on the number within the grace around it
    moment = ["phone", "ts", "product"]
    unnamed = marked["account_id"].isna() & marked["product"].isin(SOCIAL)
    pairs = marked.loc[unnamed, moment].merge(registered, on=["phone", "product"])
    within = pairs[
        (pairs["ts"] >= pairs["registered_at"] - grace)
        & (pairs["ts"] <= pairs["registered_at"] + grace)
    ]
    unnamed_codes = within[moment].drop_duplicates().assign(is_unnamed_code=True)
    found = marked[moment].merge(unnamed_codes, on=moment, how="left")["is_unnamed_code"]
    is_registration_code |= unnamed & found.notna().to_numpy()
    tenure = in_tenure(marked, tenure_start)
    social = tenure & marked["product"].isin(SOCIAL)
    marked["tenure_ts"] = marked["ts"].where(tenure)
    marked["social_ts"] = marked["ts"].where(social)
    marked["free_ts"] = marked["ts"].where(social & ~is_registration_code)
    marked["registration_code_ts"] = marked["ts"].where(social & is_registration_code)
    # the days holding a free code: a burst in one sitting is one occasion
    marked["free_day"] = marked["free_ts"].dt.floor("D")
    return marked.groupby("phone").agg(
        first_code_at=("ts", "min"),
        first_tenure_code_at=("tenure_ts", "min"),
        social_codes=("social_ts", "count"),
        first_social_code_at=("social_ts", "min"),
        last_social_code_at=("social_ts", "max"),
        free_social_codes=("free_ts", "count"),
        free_code_days=("free_day", "nunique"),
        last_free_social_code_at=("free_ts", "max"),
        last_registration_code_at=("registration_code_ts", "max"),
    )


def sms_features(
    deliveries: pd.DataFrame, tenure_start: pd.Series, rules: RuleSettings
) -> pd.DataFrame:
    """int_sms_features: delivery reports per number, and whether delivery may have a gap.

    A silence longer than W holds a whole half-period (W/2, counted from the epoch) with no
    delivery: only the numbers with such a half-period between their first and last delivery,
    or with a silence longer than W after the last delivery while SMS kept failing, may have a
    gap; sms_gaps measures theirs.
    """
    window = pd.Timedelta(seconds=rules.possession_window_seconds)
    half = pd.Timedelta(seconds=rules.possession_window_seconds // 2)
    marked = deliveries[["phone", "ts"]].copy()
    tenure = in_tenure(deliveries, tenure_start)
    delivered = tenure & (deliveries["status"] == "delivered")
    marked["attempt_ts"] = marked["ts"].where(tenure)
    marked["delivered_ts"] = marked["ts"].where(delivered)
    marked["delivered_half_period"] = ((marked["ts"] - EPOCH) // half).where(delivered)
    features = marked.groupby("phone").agg(
        first_sms_at=("ts", "min"),
        delivered=("delivered_ts", "count"),
        first_delivered_at=("delivered_ts", "min"),
        last_delivered_at=("delivered_ts", "max"),
        last_attempt_at=("attempt_ts", "max"),
        delivered_half_periods=("delivered_half_period", "nunique"),
        first_half_period=("delivered_half_period", "min"),
        last_half_period=("delivered_half_period", "max"),
    )
    # W-periods of the first and last delivery: steady delivery asks for two at least
    features["first_delivered_period"] = (features["first_delivered_at"] - EPOCH) // window
    features["last_delivered_period"] = (features["last_delivered_at"] - EPOCH) // window
    spanned = features["last_half_period"] - features["first_half_period"] + 1
    silence = features["last_attempt_at"] - features["last_delivered_at"]
    features["may_have_gap"] = (features["delivered_half_periods"] < spanned) | (silence > window)
    return features


def sms_gaps(
    deliveries: pd.DataFrame,
    features: pd.DataFrame,
    tenure_start: pd.Series,
    rules: RuleSettings,
) -> pd.Series:
    """int_sms_gaps: where the longest silence in delivery starts, for numbers with a gap.

    A gap is a silence longer than W between two deliveries of the tenure, or after the last
    delivery while SMS kept failing.
    """
    window = pd.Timedelta(seconds=rules.possession_window_seconds)
    candidates = features[features["may_have_gap"]]
    delivered = deliveries[
        deliveries["phone"].isin(candidates.index) & (deliveries["status"] == "delivered")
    ]
    delivered = delivered[in_tenure(delivered, tenure_start)]
    # in time order, the delivery before each one of the same number
    delivered = delivered[["phone", "ts"]].sort_values("ts")
    previous = delivered.groupby("phone")["ts"].shift()
    between = pd.DataFrame(
        {"phone": delivered["phone"], "gap_from": previous, "gap": delivered["ts"] - previous}
    ).dropna(subset=["gap_from"])
    trailing = pd.DataFrame(
        {
            "phone": candidates.index,
            "gap_from": candidates["last_delivered_at"].to_numpy(),
            "gap": (candidates["last_attempt_at"] - candidates["last_delivered_at"]).to_numpy(),
        }
    )
    gaps = pd.concat([between, trailing], ignore_index=True)
    # the longest first, the latest of equally long ones first
    longest = gaps.sort_values(["gap", "gap_from"], ascending=False).drop_duplicates("phone")
    longest = longest[longest["gap"] > window]
    return longest.set_index("phone")["gap_from"].rename("sms_gap_at")


def registration_features(profiles: pd.DataFrame, tenure_start: pd.Series) -> pd.DataFrame:
    """int_registration_features: registrations per number, over all time and in the tenure.

    The tenure's registrations agree when made at two moments at least, with one person field
    at least given at two moments, and no field given two different values.
    """
    marked = profiles[["phone", "ts"]].copy()
    tenure = in_tenure(profiles, tenure_start)
    marked["tenure_ts"] = marked["ts"].where(tenure)
    marked["social_ts"] = marked["ts"].where(tenure & profiles["product"].isin(SOCIAL))
    given = {}
    for column in PERSON:
        value = profiles[column].where(tenure)
        marked[column] = value
        marked[f"{column}_ts"] = marked["ts"].where(value.notna())
        given[f"first_{column}_at"] = (f"{column}_ts", "min")
        given[f"last_{column}_at"] = (f"{column}_ts", "max")
        given[f"least_{column}"] = (column, "min")
        given[f"greatest_{column}"] = (column, "max")
    features = marked.groupby("phone").agg(
        first_registration_at=("ts", "min"),
        first_tenure_registration_at=("tenure_ts", "min"),
        last_tenure_registration_at=("tenure_ts", "max"),
        social_registrations=("social_ts", "count"),
        first_social_registration_at=("social_ts", "min"),
        **given,
    )
    two_moments = features["first_tenure_registration_at"] < features["last_tenure_registration_at"]
    field_twice = pd.Series(False, index=features.index)
    one_value = pd.Series(True, index=features.index)
    for column in PERSON:
        field_twice |= features[f"first_{column}_at"] < features[f"last_{column}_at"]
        least, greatest = features[f"least_{column}"], features[f"greatest_{column}"]
        one_value &= least.isna() | (least == greatest)
    features["profiles_agree"] = two_moments & field_twice & one_value
    return features[
        [
            "first_registration_at",
            "first_tenure_registration_at",
            "last_tenure_registration_at",
            "social_registrations",
            "first_social_registration_at",
            "profiles_agree",
        ]
    ]


def other_features(
    number_changes: pd.DataFrame, verifications: pd.DataFrame, tenure_start: pd.Series
) -> pd.DataFrame:
    """int_other_features: number changes and re-verifications per number."""
    events = pd.concat(
        [
            number_changes[["phone", "ts"]].assign(is_confirmation=False),
            verifications[["phone", "ts"]].assign(
                is_confirmation=verifications["result"] == "confirmed"
            ),
        ],
        ignore_index=True,
    )
    confirmed = events["is_confirmation"] & in_tenure(events, tenure_start)
    events["confirmed_ts"] = events["ts"].where(confirmed)
    return events.groupby("phone").agg(
        first_event_at=("ts", "min"),
        first_tenure_confirmed_at=("confirmed_ts", "min"),
        last_confirmed_at=("confirmed_ts", "max"),
    )


# --- the classification --------------------------------------------------------------------------

# (reason, the status it explains, its condition column, its time column), canonical order
REASONS = [
    (PROFILE_MISMATCH, "owner_changed", "has_profile_mismatch", "profile_mismatch_at"),
    (NUMBER_CHANGE_REPORTED, "owner_changed", "has_number_change_reported", "number_change_at"),
    (SMS_PERMANENT_FAILURES, "owner_changed", "has_sms_permanent_failures", "permanent_failure_at"),
    (OWNER_DENIED, "owner_changed", "has_owner_denied", "owner_denied_at"),
    ("RECENT_CODE_ENTRY", "verified", "has_recent_code", "last_social_code_at"),
    ("RECENT_CONFIRMATION", "verified", "has_recent_confirmation", "last_confirmed_at"),
    ("STEADY_SMS_DELIVERY", "verified", "steady_sms_delivery", "last_delivered_at"),
    ("PROFILES_MATCH", "verified", "profiles_match", "last_tenure_registration_at"),
    ("SPARSE_CODE_ENTRIES", "suspicious", "sparse_code_entries", "last_free_social_code_at"),
    ("ONLY_REGISTRATION_CODE", "suspicious", "only_registration_code", "last_registration_code_at"),
    ("NO_RECENT_CODE", "suspicious", "no_recent_code", "last_social_code_at"),
    ("SMS_GAP", "suspicious", "has_sms_gap", "sms_gap_at"),
    ("NO_HISTORY", "unknown", "no_history", "no_history_at"),
]


def classify(events_dir: Path, as_of: datetime, rules: RuleSettings | None = None) -> pd.DataFrame:
    """The scores of every number in the history as of `as_of`, as `ownership score` gives them."""
    rules = rules or RuleSettings()
    moment = pd.Timestamp(as_of)
    if moment.tzinfo is not None:
        moment = moment.tz_convert("UTC").tz_localize(None)
    moment = moment.floor("s")
    window = pd.Timedelta(seconds=rules.possession_window_seconds)
    freshness = pd.Timedelta(seconds=rules.freshness_seconds)

    events = load(events_dir, moment)
    codes, deliveries = events["code_entries"], events["sms_deliveries"]
    registrations, accounts = events["registrations"], events["accounts"]
    number_changes, verifications = events["number_changes"], events["verifications"]

    profiles = registration_profiles(registrations, accounts, rules)
    evidence = change_evidence(profiles, number_changes, verifications, deliveries)
    proofs = holder_proofs(evidence, codes, registrations, accounts, verifications)
    tenure = tenures(evidence, proofs, rules)
    start = tenure["tenure_start"]
    code = code_features(codes, registrations, start, rules)
    sms = sms_features(deliveries, start, rules)
    gap_at = sms_gaps(deliveries, sms, start, rules)
    registration = registration_features(profiles, start)
    other = other_features(number_changes, verifications, start)

    # int_numbers: every number named by any input
    phones = (
        code.index.union(sms.index)
        .union(registration.index)
        .union(other.index)
        .union(pd.Index(accounts["phone"].unique()))
    )
    n = pd.DataFrame(index=pd.Index(phones, name="phone"))
    n = n.join([tenure, code, sms, registration, other]).join(gap_at)
    n["first_seen_at"] = n[
        ["first_code_at", "first_sms_at", "first_registration_at", "first_event_at"]
    ].min(axis=1)
    n["is_open"] = n["is_open"].fillna(False).astype(bool)
    n["has_sms_gap"] = n["sms_gap_at"].notna()
    n["free_social_codes"] = n["free_social_codes"].fillna(0)
    n["free_code_days"] = n["free_code_days"].fillna(0)
    n["social_registrations"] = n["social_registrations"].fillna(0)

    # a proof is recent when it is no older than its window
    n["has_recent_code"] = n["last_social_code_at"] >= moment - window
    n["has_recent_confirmation"] = n["last_confirmed_at"] >= moment - freshness
    n["has_recent_delivery"] = n["last_delivered_at"] >= moment - window
    # doubts about the tenure (suspicious)
    n["only_registration_code"] = (
        (n["social_registrations"] > 0)
        & (n["free_social_codes"] == 0)
        & n["last_registration_code_at"].notna()
    )
    first_social = n["first_social_registration_at"].fillna(n["first_social_code_at"])
    # days holding a code, not codes: a burst long ago does not stand for years of them
    n["sparse_code_entries"] = (n["free_social_codes"] > 0) & (
        n["free_code_days"] * window < moment - first_social
    )
    n["no_recent_code"] = ~n["has_recent_code"] & ~n["has_recent_confirmation"]
    # support for the tenure (verified): SMS delivered at least once every W, in two W-periods
    # at least and up to W before as_of; and registrations that agree
    n["steady_sms_delivery"] = (
        (n["first_delivered_period"] < n["last_delivered_period"])
        & ~n["has_sms_gap"]
        & n["has_recent_delivery"]
    )
    n["profiles_match"] = n["profiles_agree"].fillna(False).astype(bool)

    n["status"] = np.select(
        [
            n["first_seen_at"].isna(),
            n["is_open"],
            n["has_recent_confirmation"],
            n["has_recent_code"]
            & ~n["only_registration_code"]
            & ~n["sparse_code_entries"]
            & ~n["has_sms_gap"],
        ],
        ["unknown", "owner_changed", "verified", "verified"],
        "suspicious",
    )

    # the open evidence behind owner_changed, and no history behind unknown
    for reason, column in zip(CHANGE_REASONS, CHANGE_TIMES, strict=True):
        n[f"has_{reason.lower()}"] = n[column].notna()
    n["no_history"] = n["status"] == "unknown"
    n["no_history_at"] = pd.NaT

    n["last_change_at"] = n[CHANGE_TIMES].max(axis=1)
    n["first_holder_evidence_at"] = n[
        [
            "first_tenure_code_at",
            "first_delivered_at",
            "first_tenure_registration_at",
            "first_tenure_confirmed_at",
        ]
    ].min(axis=1)
    n["last_proof_at"] = n[["last_social_code_at", "last_confirmed_at"]].max(axis=1)
    n["risk_score"] = risk_scores(n, moment, rules)
    n["owner_since"] = owner_since(n)
    return scores(n, moment)


def risk_scores(n: pd.DataFrame, as_of: pd.Timestamp, rules: RuleSettings) -> pd.Series:
    """0-1000: verified 0-299, suspicious 300-699, unknown 500, owner_changed 700-1000."""
    window_days = rules.possession_window_days
    # whole days, as the SQL's seconds // 86400
    since_change = (as_of - n["last_change_at"]).dt.days.clip(upper=365)
    since_proof = (as_of - n["last_proof_at"]).dt.days
    evidence_points = (
        120 * n["owner_denied_at"].notna()
        + 100 * n["number_change_at"].notna()
        + 80 * n["profile_mismatch_at"].notna()
        + 60 * n["permanent_failure_at"].notna()
    ).clip(upper=250)
    owner_changed = 700 + evidence_points + 50 - since_change * 50 // 365
    verified = (
        since_proof.clip(upper=window_days) * 150 // window_days
        + 75 * ~n["steady_sms_delivery"]
        + 74 * ~n["profiles_match"]
    )
    doubts = (
        n["no_recent_code"].astype(int)
        + n["only_registration_code"]
        + n["sparse_code_entries"]
        + n["has_sms_gap"]
    )
    suspicious = 300 + 60 * doubts + (since_proof.clip(upper=365) * 159 // 365).fillna(159)
    score = np.select(
        [n["status"] == "unknown", n["status"] == "owner_changed", n["status"] == "verified"],
        [500, owner_changed, verified],
        suspicious,
    )
    return pd.Series(score, index=n.index).astype("int16")


def owner_since(n: pd.DataFrame) -> pd.Series:
    """The first evidence of the current holder after the latest change; else the first event.

    None for an owner_changed number no holder has shown on since the change: the change alone
    vouches for no one."""
    after_change = n["first_holder_evidence_at"].where(
        n["status"] == "owner_changed", n["first_holder_evidence_at"].fillna(n["tenure_start"])
    )
    since = after_change.where(n["tenure_start"].notna(), n["first_seen_at"])
    return since.where(n["status"] != "unknown")


def utc(times: pd.Series) -> pd.Series:
    """Times counted in UTC, marked so: the output contract's zone."""
    zoned: pd.Series = times.dt.tz_localize("UTC")
    return zoned


def scores(n: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The columns of scores.parquet, with each number's reasons and their times as lists."""
    held = []
    for order, (code, status, condition, at) in enumerate(REASONS):
        holds = (n["status"] == status) & n[condition]
        held.append(
            pd.DataFrame(
                {"order": order, "code": code, "at": utc(n.loc[holds, at])}, index=n.index[holds]
            )
        )
    reasons = pd.concat(held).reset_index().sort_values(["phone", "order"])
    lists = reasons.groupby("phone").agg(reasons=("code", list), reason_times=("at", list))

    changed = n["status"] == "owner_changed"
    result = pd.DataFrame(
        {
            "status": n["status"],
            "risk_score": n["risk_score"],
            "owner_since": utc(n["owner_since"]),
            "first_seen_at": utc(n["first_seen_at"]),
            "last_code_at": utc(n["last_social_code_at"].mask(changed)),
            "last_confirmed_at": utc(n["last_confirmed_at"].mask(changed)),
            "as_of": as_of.tz_localize("UTC"),
        },
        index=n.index,
    ).join(lists)
    result = result.reset_index()
    return result[list(load_contract("scores").column_names)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("events", type=Path, help="the history folder, one sub-folder per kind")
    parser.add_argument("out", type=Path, help="the Parquet file to write")
    parser.add_argument(
        "--as-of",
        type=datetime.fromisoformat,
        default=None,
        help="score as of this UTC time (default: now)",
    )
    args = parser.parse_args(argv)
    as_of = args.as_of or datetime.now(UTC).replace(microsecond=0)
    # the rule settings `ownership score` reads, OWNERSHIP_* included
    classify(args.events, as_of, load_settings().rules()).to_parquet(args.out, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
