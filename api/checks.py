"""Pre-send checks (DESIGN §6): a number's verdict, what to do, and where it can be reached.

`check_number` answers one number with the core's values. `check_numbers` answers a bulk call
column-wise (Polars), so that a million numbers cost seconds, not minutes; it decides each
distinct policy case with the same core `decide`, and a test holds both paths to one answer.
Numbers found in the snapshot were validated by the batch; phonenumbers judges only the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from ownership.numbers import InvalidNumberError, PhoneNumber, mask, parse_number
from ownership.policy import Policy, decide
from ownership.verdicts import REASON_ORDER, Evidence, Reason, Status, StatusCode, Verdict
from pipelines.snapshot import (
    ACTIVE,
    BOUND,
    CHANNEL_BITS,
    MOBILE_APP,
    NETWORKS,
    REASON_TIME_COLUMNS,
    RISK_MASK,
    STATUS_SHIFT,
    Snapshot,
    channels_from_bits,
)

ISO = "%Y-%m-%dT%H:%M:%SZ"
NO_HISTORY = Verdict(Status.UNKNOWN, 500, (Evidence(Reason.NO_HISTORY, None),), None)
STRICT_E164 = r"^\+[1-9][0-9]{4,14}$"
STRICT_E164_TEXT = re.compile(STRICT_E164)
TIME_COLUMNS = ("owner_since", "last_code_at", "last_confirmed_at", "evidence_at")


@dataclass(frozen=True)
class CheckOptions:
    since: datetime | None = None
    sensitive: bool = False
    mobile_only: bool = False


EPOCH = datetime(1970, 1, 1)


def _seconds(moment: datetime) -> int:
    """Seconds since the epoch of a naive UTC time."""
    return int((moment - EPOCH).total_seconds())


def iso(moment: datetime | None) -> str | None:
    return moment.strftime(ISO) if moment else None


def number_in(snapshot: Snapshot, text: str) -> PhoneNumber:
    """The number `text` names. A strict E.164 text that the snapshot holds was validated by
    the batch; any other text is judged by phonenumbers (InvalidNumberError when bad)."""
    stripped = text.strip()
    if STRICT_E164_TEXT.match(stripped) and snapshot.lookup(int(stripped[1:])) is not None:
        return PhoneNumber(stripped)
    return parse_number(text)


def verdict_of(snapshot: Snapshot, number: PhoneNumber) -> tuple[Verdict, tuple[Any, ...]]:
    """The number's verdict and channels; a number the snapshot lacks has no history."""
    record = snapshot.lookup(number.key)
    if record is None:
        return NO_HISTORY, ()
    return record.verdict(), record.channels


def check_number(
    snapshot: Snapshot, number: PhoneNumber, options: CheckOptions, now: datetime, policy: Policy
) -> dict[str, Any]:
    """The answer of `POST /v1/check` for one valid number."""
    verdict, channels = verdict_of(snapshot, number)
    decision = decide(
        verdict,
        channels,
        sensitive=options.sensitive,
        mobile_only=options.mobile_only,
        now=now,
        policy=policy,
    )
    return {
        "phone": number.e164,
        "phone_masked": number.masked,
        "status": verdict.status.value,
        "risk_score": verdict.risk_score,
        "reasons": [{"code": item.reason.value, "at": iso(item.at)} for item in verdict.evidence],
        "owner_since": iso(verdict.owner_since),
        "changed_since": (
            None
            if options.since is None
            else verdict.changed_since(options.since, snapshot.coverage_from)
        ),
        "last_confirmed_at": iso(verdict.last_confirmed_at),
        "action": decision.action.value,
        "policy_case": decision.row.value,
        "channels": [
            {
                "network": channel.network.value,
                "active": channel.active,
                "mobile_app": channel.mobile_app,
            }
            for channel in channels
        ],
        "as_of": iso(snapshot.as_of),
    }


# ---- bulk, column-wise -------------------------------------------------------------------


def _time(column: str) -> pl.Expr:
    seconds = pl.col(column)
    return (
        pl.when(seconds > 0)
        .then(pl.from_epoch(seconds.cast(pl.Int64), time_unit="s").dt.strftime(ISO))
        .otherwise(None)
    )


def _masks(keys: pl.Series) -> pl.Series:
    """`mask` for every key: the core masks one number of each length, the rest is slicing."""
    digits = keys.cast(pl.String)
    lengths = digits.str.len_chars()
    heads, middles = {}, {}
    for length in lengths.unique().drop_nulls().to_list():
        try:
            sample = mask("+" + "1" * length)
        except InvalidNumberError:
            continue  # not a number: its item is an error
        heads[length] = len(sample) - len(sample.lstrip("+1"))
        middles[length] = sample[heads[length] : len(sample) - 3]  # between head and " dd"
    frame = pl.DataFrame({"digits": digits, "length": lengths})
    head = pl.col("length").replace_strict(heads, return_dtype=pl.Int64, default=1) - 1
    return frame.select(
        pl.concat_str(
            pl.lit("+"),
            pl.col("digits").str.slice(0, head),
            pl.col("length").replace_strict(middles, return_dtype=pl.String, default=""),
            pl.lit(" "),
            pl.col("digits").str.slice(-2),
        )
    ).to_series()


def _actions(
    status: np.ndarray,
    channels: np.ndarray,
    fresh: np.ndarray,
    options: CheckOptions,
    now: datetime,
    policy: Policy,
) -> tuple[np.ndarray, np.ndarray]:
    """The action and policy case of every row, deciding each distinct case once with the core."""
    cases = (
        status.astype(np.int32) | (channels.astype(np.int32) << 2) | (fresh.astype(np.int32) << 8)
    )
    distinct, inverse = np.unique(cases, return_inverse=True)
    actions, rows = [], []
    for case in distinct.tolist():
        verdict = Verdict(
            Status[StatusCode(case & 3).name],
            0,
            (),
            None,
            last_code_at=now if case >> 8 else None,
        )
        decision = decide(
            verdict,
            channels_from_bits((case >> 2) & 0x3F),
            sensitive=options.sensitive,
            mobile_only=options.mobile_only,
            now=now,
            policy=policy,
        )
        actions.append(decision.action.value)
        rows.append(decision.row.value)
    return np.array(actions)[inverse], np.array(rows)[inverse]


def _keys(phones: list[str]) -> tuple[np.ndarray, list[str | None]]:
    """The int64 key of every phone (0 where none) and the error message of the bad ones.

    Strict E.164 texts are converted column-wise; messy texts ("+7 923 456-78-23") go through
    phonenumbers. A strict text is judged by phonenumbers only if the snapshot lacks it.
    """
    texts = pl.Series("phone", phones, dtype=pl.String).str.strip_chars()
    strict = texts.str.contains(STRICT_E164).fill_null(False).to_numpy()
    digits = texts.str.slice(1).cast(pl.Int64, strict=False).fill_null(0).to_numpy()
    keys = np.where(strict, digits, 0).astype(np.int64)
    errors: list[str | None] = [None] * len(phones)
    for index in np.flatnonzero(~strict).tolist():
        try:
            keys[index] = parse_number(phones[index]).key
        except InvalidNumberError as error:
            errors[index] = str(error)
    return keys, errors


def _quoted(expr: pl.Expr) -> pl.Expr:
    """A JSON string of a text that needs no escaping (codes, times, digits), or null."""
    return (
        pl.when(expr.is_null())
        .then(pl.lit("null"))
        .otherwise(pl.concat_str(pl.lit('"'), expr, pl.lit('"')))
    )


def _boolean(expr: pl.Expr) -> pl.Expr:
    return (
        pl.when(expr.is_null())
        .then(pl.lit("null"))
        .when(expr)
        .then(pl.lit("true"))
        .otherwise(pl.lit("false"))
    )


def _array(items: Sequence[pl.Expr]) -> pl.Expr:
    listed = pl.concat_str(items, separator=",", ignore_nulls=True)
    return pl.concat_str(pl.lit("["), listed, pl.lit("]"))


def _reasons_json() -> pl.Expr:
    items = []
    for reason in REASON_ORDER:
        column = REASON_TIME_COLUMNS[reason]
        at = _quoted(pl.col(f"{column}_text")) if column else pl.lit("null")
        items.append(
            pl.when((pl.col("reasons") & reason.bit) != 0).then(
                pl.concat_str(pl.lit(f'{{"code":"{reason.value}","at":'), at, pl.lit("}"))
            )
        )
    return _array(items)


def _channels_json() -> pl.Expr:
    items = []
    for index, network in enumerate(NETWORKS):
        bits = pl.col("channels") // (1 << (CHANNEL_BITS * index))
        items.append(
            pl.when((bits & BOUND) != 0).then(
                pl.concat_str(
                    pl.lit(f'{{"network":"{network.value}","active":'),
                    _boolean((bits & ACTIVE) != 0),
                    pl.lit(',"mobile_app":'),
                    _boolean((bits & MOBILE_APP) != 0),
                    pl.lit("}"),
                )
            )
        )
    return _array(items)


def check_numbers(
    snapshot: Snapshot, phones: list[str], options: CheckOptions, now: datetime, policy: Policy
) -> str:
    """The JSON array of `POST /v1/check/bulk`: one item per phone, in order.

    A good phone gets the answer of `check_number`; a bad one `{"phone", "error"}`. The items
    are written as JSON text column-wise: every value but the error's is a code, a number, a
    time or digits, which need no escaping.
    """
    keys, errors = _keys(phones)
    positions = snapshot.positions(keys)
    # a strict text the snapshot lacks may still be no valid number: ask phonenumbers
    for index in np.flatnonzero((positions < 0) & (keys > 0)).tolist():
        if errors[index] is None:
            try:
                parse_number(phones[index])
            except InvalidNumberError as error:
                errors[index] = str(error)
    found = positions >= 0
    taken = np.where(found, positions, 0)
    columns = {
        name: values[taken] if len(snapshot) else np.zeros(len(keys), dtype=values.dtype)
        for name, values in snapshot.columns.items()
    }
    status = np.where(found, columns["status_risk"] >> STATUS_SHIFT, StatusCode.UNKNOWN.value)
    channels = np.where(found, columns["channels"], 0)
    last_proof = np.maximum(columns["last_code_at"], columns["last_confirmed_at"]).astype(np.int64)
    fresh = found & (last_proof > 0) & (last_proof >= _seconds(now - policy.freshness))
    actions, cases = _actions(status, channels, fresh, options, now, policy)
    frame = pl.DataFrame(
        {
            "key": keys,
            "error": [
                None if message is None else _error_item(text, message)
                for text, message in zip(phones, errors, strict=True)
            ]
            if any(errors)
            else pl.Series([None] * len(keys), dtype=pl.String),
            "status": status,
            "risk_score": np.where(
                found, columns["status_risk"] & RISK_MASK, NO_HISTORY.risk_score
            ).astype(np.int64),
            "reasons": np.where(found, columns["reasons"], Reason.NO_HISTORY.bit).astype(np.int64),
            "channels": channels.astype(np.int64),
            "action": actions,
            "policy_case": cases,
        }
        | {name: np.where(found, columns[name], 0) for name in TIME_COLUMNS}
    )
    # each time is formatted once, then shared by the reasons that carry it
    frame = frame.with_columns(
        phone_masked=_masks(frame["key"]),
        **{f"{name}_text": _time(name) for name in TIME_COLUMNS},
    )
    coverage = snapshot.coverage_from
    if options.since is None or coverage is None or options.since < coverage:
        changed = pl.lit(None, dtype=pl.Boolean)
    else:
        changed = pl.when(pl.col("owner_since") > 0).then(
            pl.lit(_seconds(options.since)) < pl.col("owner_since")
        )
    statuses = {code.value: Status[code.name].value for code in StatusCode}
    answer = pl.concat_str(
        pl.lit('{"phone":"+'),
        pl.col("key").cast(pl.String),
        pl.lit('","phone_masked":"'),
        pl.col("phone_masked"),
        pl.lit('","status":"'),
        pl.col("status").replace_strict(statuses, return_dtype=pl.String),
        pl.lit('","risk_score":'),
        pl.col("risk_score").cast(pl.String),
        pl.lit(',"reasons":'),
        _reasons_json(),
        pl.lit(',"owner_since":'),
        _quoted(pl.col("owner_since_text")),
        pl.lit(',"changed_since":'),
        _boolean(changed),
        pl.lit(',"last_confirmed_at":'),
        _quoted(pl.col("last_confirmed_at_text")),
        pl.lit(',"action":"'),
        pl.col("action"),
        pl.lit('","policy_case":"'),
        pl.col("policy_case"),
        pl.lit('","channels":'),
        _channels_json(),
        pl.lit(',"as_of":'),
        pl.lit(json.dumps(iso(snapshot.as_of))),
        pl.lit("}"),
    )
    items = frame.select(pl.coalesce(pl.col("error"), answer).str.join(",")).item()
    return f"[{items}]"


def _error_item(text: str, message: str) -> str:
    error = {"status": 400, "code": "INVALID_ARGUMENT", "message": message}
    return json.dumps({"phone": text, "error": error}, ensure_ascii=False)
