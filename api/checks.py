"""Pre-send checks (DESIGN §6): a number's verdict, what to do, and where it can be reached.

`check_number` answers one number with the core's values. `check_numbers` answers a bulk call
column-wise (Polars), so that a million numbers cost seconds, not minutes; it decides each
distinct policy case with the same core `decide`, and a test holds both paths to one answer.
Numbers found in the snapshot were validated by the batch; phonenumbers judges only the rest.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
import polars as pl

from api.error_codes import ErrorCode
from delivery.overlay import LiveOverlay
from ownership.live import LiveAnswers, with_live_answers
from ownership.notifications import CLOCK_SKEW
from ownership.numbers import (
    COUNTRY_CODES,
    InvalidNumberError,
    PhoneNumber,
    mask,
    parse_number,
    parse_sent_number,
)
from ownership.policy import Policy, decide
from ownership.verdicts import (
    NO_HISTORY_VERDICT,
    Reason,
    Status,
    StatusCode,
    Verdict,
    is_whole_day,
    latest_today,
)
from pipelines.snapshot import EPOCH, Snapshot, SnapshotRecord
from pipelines.snapshot_format import (
    CHANNELS_BITS,
    CHANNELS_SHIFT,
    REASONS_BITS,
    REASONS_SHIFT,
    RISK_BITS,
    RISK_SHIFT,
    SLOTS,
    STATUS_MASK,
    channels_from_bits,
    code_slots,
    confirmations_free,
    time_plan,
)

ISO = "%Y-%m-%dT%H:%M:%SZ"
STRICT_E164 = r"^\+[1-9][0-9]{4,14}$"
NOT_TEXT = "the phone must be a JSON string, as E.164 text"
STRICT_E164_TEXT = re.compile(STRICT_E164)
# a number without history, as the snapshot would pack it
NO_HISTORY_PACKED = (NO_HISTORY_VERDICT.risk_score << RISK_SHIFT) | (
    Reason.NO_HISTORY.bit << REASONS_SHIFT
)


@dataclass(frozen=True)
class CheckOptions:
    since: datetime | None = None
    sensitive: bool = False
    mobile_only: bool = False


class SinceInFutureError(ValueError):
    """`since` is later than now: whether the number changes hands after it is not known yet."""


def options_at(
    now: datetime, since: datetime | None, sensitive: bool, mobile_only: bool
) -> CheckOptions:
    """The options of a check made at `now`; a `since` later than now, beyond a client clock's
    skew, is refused, as CAMARA's routes refuse a future date, rather than answered false. A
    date (its `whole_day_since`) is in the future once it is so in every time zone, as on
    those routes."""
    if since is not None:
        if is_whole_day(since):
            future, shown = since.date() > latest_today(now), since.date().isoformat()
        else:
            future, shown = since > now + CLOCK_SKEW, since.isoformat()
        if future:
            raise SinceInFutureError(
                f"since {shown} is in the future: a number's change after it is not known yet"
            )
    return CheckOptions(since, sensitive, mobile_only)


# a case says only whether the proof is fresh: decided with a proof at the moment of deciding
FRESH_PROOF = datetime(2000, 1, 1)


def _seconds(moment: datetime) -> int:
    """Seconds since the epoch of a naive UTC time."""
    return int((moment - EPOCH).total_seconds())


def iso(moment: datetime | None) -> str | None:
    """A naive UTC time of whole seconds as `2026-06-01T00:00:00Z`."""
    return moment.isoformat(timespec="seconds") + "Z" if moment else None


def find_number(snapshot: Snapshot, text: str) -> tuple[PhoneNumber, SnapshotRecord | None]:
    """The number `text` names, and its snapshot record (None: no history).

    A strict E.164 text that the snapshot holds was validated by the batch; any other text is
    judged by phonenumbers, which raises InvalidNumberError for a bad one.
    """
    stripped = text.strip()
    if STRICT_E164_TEXT.match(stripped):
        record = snapshot.lookup(int(stripped[1:]))
        if record is not None:
            return PhoneNumber(stripped), record
    number = parse_sent_number(text)
    return number, snapshot.lookup(number.key)


def check_number(
    snapshot: Snapshot,
    number: PhoneNumber,
    record: SnapshotRecord | None,
    options: CheckOptions,
    now: datetime,
    policy: Policy,
    live: LiveAnswers | None = None,
    answers_fresh_for: timedelta | None = None,
) -> dict[str, Any]:
    """The answer of `POST /v1/check` for one valid number and its record (`find_number`),
    with the answers `live` its person gave since the batch on top. `policy` decides the
    action (a client's own, or the service's); a Yes makes the number verified for
    `answers_fresh_for`, the service's F (by default the policy's): a client's F says which
    proofs it takes as fresh, not how long a Yes makes a number verified for everyone."""
    verdict = NO_HISTORY_VERDICT if record is None else record.verdict()
    verdict = with_live_answers(verdict, live, now, answers_fresh_for or policy.freshness)
    channels = () if record is None else record.channels
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


def _time_json(column: str) -> pl.Expr:
    """A time column (epoch seconds, 0 for none) as its JSON value: a quoted UTC time or null."""
    seconds = pl.col(column)
    moment = pl.from_epoch(seconds.cast(pl.Int64), time_unit="s")
    return pl.when(seconds > 0).then(moment.dt.strftime(f'"{ISO}"')).otherwise(pl.lit("null"))


# a country code of each length, to make a sample number of any length and code length with
COUNTRY_CODE_SAMPLES = {1: "7", 2: "49", 3: "375"}
CODES_OF_LENGTH = {
    size: sorted(code for code in COUNTRY_CODES if len(str(code)) == size)
    for size in COUNTRY_CODE_SAMPLES
}


def _masks(keys: pl.Series) -> pl.Series:
    """`mask` for every key: the core masks one number of each length and country code length,
    the rest is slicing."""
    digits = keys.cast(pl.String)
    frame = pl.DataFrame({"digits": digits}).with_columns(
        # as `country_code_length`: codes are prefix-free, so the first that matches is it
        shape=pl.col("digits").str.len_chars() * 4
        + pl.when(pl.col("digits").str.slice(0, 1).cast(pl.Int64).is_in(CODES_OF_LENGTH[1]))
        .then(1)
        .when(pl.col("digits").str.slice(0, 2).cast(pl.Int64).is_in(CODES_OF_LENGTH[2]))
        .then(2)
        .when(pl.col("digits").str.slice(0, 3).cast(pl.Int64).is_in(CODES_OF_LENGTH[3]))
        .then(3)
        .otherwise(1)
    )
    heads, middles = {}, {}
    for shape in frame["shape"].unique().drop_nulls().to_list():
        length, code = shape // 4, COUNTRY_CODE_SAMPLES[shape % 4]
        try:
            sample = mask("+" + code + "1" * (length - len(code)))
        except InvalidNumberError:
            continue  # not a number: its item is an error
        heads[shape] = len(sample) - len(sample.lstrip("+0123456789"))
        middles[shape] = sample[heads[shape] : len(sample) - 3]  # between head and " dd"
    head = pl.col("shape").replace_strict(heads, return_dtype=pl.Int64, default=1) - 1
    return frame.select(
        pl.concat_str(
            pl.lit("+"),
            pl.col("digits").str.slice(0, head),
            pl.col("shape").replace_strict(middles, return_dtype=pl.String, default=""),
            pl.lit(" "),
            pl.col("digits").str.slice(-2),
        )
    ).to_series()


@cache
def _case_json(
    case: int, sensitive: bool, mobile_only: bool, policy: Policy, as_of: str
) -> tuple[str, str]:
    """A case's JSON before the risk score (the status) and after the last time (action,
    policy case, channels, as_of), decided once by the core `decide` and kept."""
    state = Status[StatusCode(case & 3).name]
    reach = channels_from_bits((case >> 2) & 0x3F)
    fresh_proof = FRESH_PROOF if case >> 8 else None
    verdict = Verdict(state, 0, (), None, last_code_at=fresh_proof)
    decision = decide(
        verdict,
        reach,
        sensitive=sensitive,
        mobile_only=mobile_only,
        now=FRESH_PROOF,
        policy=policy,
    )
    channels = [
        {"network": item.network.value, "active": item.active, "mobile_app": item.mobile_app}
        for item in reach
    ]
    head = f'","status":"{state.value}","risk_score":'
    tail = (
        f',"action":"{decision.action.value}","policy_case":"{decision.row.value}"'
        f',"channels":{json.dumps(channels, separators=(",", ":"))},"as_of":{as_of}}}'
    )
    return head, tail


def _cases(
    status: np.ndarray,
    channels: np.ndarray,
    fresh: np.ndarray,
    options: CheckOptions,
    policy: Policy,
    as_of: str,
) -> tuple[np.ndarray, list[str], list[str]]:
    """Each row's case, and each case's JSON around the row's own values.

    A case is a status, the channels and whether the proof is fresh: all the policy reads.
    """
    cases = (
        status.astype(np.int32) | (channels.astype(np.int32) << 2) | (fresh.astype(np.int32) << 8)
    )
    distinct, inverse = np.unique(cases, return_inverse=True)
    fragments = [
        _case_json(case, options.sensitive, options.mobile_only, policy, as_of)
        for case in distinct.tolist()
    ]
    return inverse.reshape(-1), [head for head, _ in fragments], [tail for _, tail in fragments]


def _keys(items: Sequence[object]) -> tuple[np.ndarray, list[str | None]]:
    """The int64 key of every phone (0 where none) and the error message of the bad ones.

    Strict E.164 texts are converted column-wise; messy texts ("+7 923 456-78-23") go through
    phonenumbers. A strict text is judged by phonenumbers only if the snapshot lacks it.
    """
    errors: list[str | None] = [None if isinstance(item, str) else NOT_TEXT for item in items]
    phones = [item if isinstance(item, str) else "" for item in items]
    try:
        texts = pl.Series("phone", phones, dtype=pl.String)
    except UnicodeEncodeError:  # a lone surrogate, which JSON can carry and UTF-8 cannot
        for index, text in enumerate(phones):
            if not _encodable(text):
                errors[index] = "the phone is not text: it holds a lone surrogate"
        texts = pl.Series("phone", [t if _encodable(t) else "" for t in phones], dtype=pl.String)
    strict = texts.str.contains(STRICT_E164).fill_null(False).to_numpy()
    digits = texts.str.slice(1).cast(pl.Int64, strict=False).fill_null(0).to_numpy()
    keys = np.where(strict, digits, 0).astype(np.int64)
    for index in np.flatnonzero(~strict).tolist():
        if errors[index] is not None:
            continue
        try:
            keys[index] = parse_sent_number(phones[index]).key
        except InvalidNumberError as error:
            errors[index] = str(error)
    return keys, errors


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _boolean(expr: pl.Expr) -> pl.Expr:
    return (
        pl.when(expr.is_null())
        .then(pl.lit("null"))
        .when(expr)
        .then(pl.lit("true"))
        .otherwise(pl.lit("false"))
    )


def _slot(source: int) -> str:
    """Where a reasons template takes the row's time `source` (`time_plan`): a control
    character, which no reason code holds."""
    return chr(1 + source)


@cache
def _reasons_template(status: int, mask: int) -> str:
    """The reasons array of a status and mask as JSON, each time a slot to fill from the row."""
    plan = time_plan(status, mask)
    items = [
        f'{{"code":"{reason.value}","at":{"null" if source is None else _slot(source)}}}'
        for reason, source in zip(plan.reasons, plan.sources, strict=True)
    ]
    return "[" + ",".join(items) + "]"


def _reasons_json(verdicts: np.ndarray) -> tuple[pl.Expr, list[int], int]:
    """Each row's reasons: the template of its status and mask (a few hundred distinct), to
    fill with the row's times; and which times the templates take, and how many extra ones."""
    kinds = verdicts & (STATUS_MASK | (REASONS_BITS << REASONS_SHIFT))
    distinct, inverse = np.unique(kinds, return_inverse=True)
    pairs = [(kind & STATUS_MASK, kind >> REASONS_SHIFT) for kind in distinct.tolist()]
    plans = [time_plan(status, mask) for status, mask in pairs]
    templates = pl.Series([_reasons_template(*pair) for pair in pairs], dtype=pl.String)
    sources = sorted({source for plan in plans for source in plan.sources if source is not None})
    reasons = pl.lit(templates.gather(inverse.reshape(-1)))
    for source in sources:
        reasons = reasons.str.replace_all(
            _slot(source), pl.col(f"time_{source}_json"), literal=True
        )
    return reasons, sources, max((plan.extras for plan in plans), default=0)


def check_numbers(
    snapshot: Snapshot,
    phones: Sequence[object],
    options: CheckOptions,
    now: datetime,
    policy: Policy,
    overlay: LiveOverlay | None = None,
    answers_fresh_for: timedelta | None = None,
) -> str:
    """The JSON body of `POST /v1/check/bulk`, `{"results": [...]}`: one item per phone, in order.

    A good phone gets the answer of `check_number`; a bad one `{"phone", "error"}`. The items
    are written as JSON text column-wise: every value but the error's is a code, a number, a
    time or digits, which need no escaping. The few numbers with answers since the batch in
    `overlay` are answered one by one, by `check_number` itself.
    """
    keys, errors = _keys(phones)
    positions = snapshot.positions(keys)
    # a strict text the snapshot lacks may be no valid number, or one phonenumbers reads as
    # another (a national prefix kept, "+789234567823"): ask it, and answer the number it reads,
    # as `/v1/check` does
    for index in np.flatnonzero((positions < 0) & (keys > 0)).tolist():
        if errors[index] is None:
            try:
                read = parse_number(str(phones[index])).key
            except InvalidNumberError as error:
                errors[index] = str(error)
                continue
            if read != keys[index]:
                keys[index] = read
                positions[index] = snapshot.positions(np.array([read], dtype=np.int64))[0]
    found = positions >= 0
    taken = np.where(found, positions, 0)

    def column(name: str) -> np.ndarray:
        values = snapshot.columns[name]
        return (
            np.where(found, values[taken], 0) if len(snapshot) else np.zeros(len(keys), np.uint32)
        )

    verdicts = np.where(found, column("verdict"), NO_HISTORY_PACKED).astype(np.int64)
    status = verdicts & STATUS_MASK
    # the row's times, as `time_plan` numbers them: last_confirmed_at, the slots, the extras
    times = [column(name) for name in ("last_confirmed_at", *SLOTS)]
    code = np.where(code_slots(status, verdicts >> REASONS_SHIFT), times[1], 0)
    # an owner_changed number's confirmation column holds a reason time, not a confirmation
    free = confirmations_free(status, verdicts >> REASONS_SHIFT)
    last_proof = np.maximum(code, np.where(free, 0, times[0])).astype(np.int64)
    fresh = found & (last_proof > 0) & (last_proof >= _seconds(now - policy.freshness))
    as_of = json.dumps(iso(snapshot.as_of))
    channels = (verdicts >> CHANNELS_SHIFT) & CHANNELS_BITS
    case, heads, tails = _cases(status, channels, fresh, options, policy, as_of)
    reasons, sources, extras = _reasons_json(verdicts)
    times += snapshot.extra_times(np.where(found, positions, -1), extras)
    shown = sorted({0, *sources})  # last_confirmed_at is answered on its own too
    frame = pl.DataFrame(
        {
            "key": keys,
            "risk_score": (verdicts >> RISK_SHIFT) & RISK_BITS,
            "owner_changed": status == StatusCode.OWNER_CHANGED.value,
            "owner_since": column("owner_since"),
            "free": free,
        }
        | {f"time_{source}": times[source] for source in shown}
    )
    # each time is written once, then shared by the reasons that carry it
    frame = frame.with_columns(
        phone_masked=_masks(frame["key"]),
        head=pl.Series(heads, dtype=pl.String).gather(case),
        tail=pl.Series(tails, dtype=pl.String).gather(case),
        owner_since_json=_time_json("owner_since"),
        **{f"time_{source}_json": _time_json(f"time_{source}") for source in shown},
    )
    coverage = snapshot.coverage_from
    if options.since is None or coverage is None or options.since < coverage:
        changed = pl.lit(None, dtype=pl.Boolean)
    else:
        # as Verdict.changed_since: an owner_changed number with no holder since the change
        # (owner_since 0) changed after any date; an unknown one has no answer
        changed = (
            pl.when(pl.col("owner_since") > 0)
            .then(pl.lit(_seconds(options.since)) < pl.col("owner_since"))
            .when(pl.col("owner_changed"))
            .then(pl.lit(True))
        )
    answer = pl.concat_str(
        pl.lit('{"phone":"+'),
        pl.col("key").cast(pl.String),
        pl.lit('","phone_masked":"'),
        pl.col("phone_masked"),
        pl.col("head"),
        pl.col("risk_score").cast(pl.String),
        pl.lit(',"reasons":'),
        reasons,
        pl.lit(',"owner_since":'),
        pl.col("owner_since_json"),
        pl.lit(',"changed_since":'),
        _boolean(changed),
        pl.lit(',"last_confirmed_at":'),
        pl.when(pl.col("free")).then(pl.lit("null")).otherwise(pl.col("time_0_json")),
        pl.col("tail"),
    )
    singles: list[str | None] = [
        None if message is None else _error_item(text, message)
        for text, message in zip(phones, errors, strict=True)
    ]
    for index in overlay.holding(keys) if overlay is not None else ():
        if singles[index] is None:
            singles[index] = _single(
                snapshot, overlay, keys, positions, index, options, now, policy, answers_fresh_for
            )
    if any(item is not None for item in singles):
        answer = pl.coalesce(pl.lit(pl.Series("single", singles, dtype=pl.String)), answer)
    body = pl.concat_str(pl.lit('{"results":['), answer.str.join(","), pl.lit("]}"))
    text: str = frame.select(body).item()
    return text


def _single(
    snapshot: Snapshot,
    overlay: LiveOverlay | None,
    keys: np.ndarray,
    positions: np.ndarray,
    index: int,
    options: CheckOptions,
    now: datetime,
    policy: Policy,
    answers_fresh_for: timedelta | None,
) -> str:
    """One bulk item answered by `check_number` itself, with its number's live answers."""
    key = int(keys[index])
    position = int(positions[index])
    record = snapshot.record(position) if position >= 0 else None
    live = overlay.answers(key) if overlay is not None else None
    number = PhoneNumber(f"+{key}")
    item = check_number(snapshot, number, record, options, now, policy, live, answers_fresh_for)
    return json.dumps(item, separators=(",", ":"))


def _error_item(sent: object, message: str) -> str:
    error = {"status": 400, "code": ErrorCode.INVALID_ARGUMENT, "message": message}
    # as sent; a lone surrogate only as an escape, the one form UTF-8 can carry
    ascii_only = not isinstance(sent, str) or not _encodable(sent)
    item = {"phone": _finite(sent), "error": error}
    return json.dumps(item, ensure_ascii=ascii_only, separators=(",", ":"), allow_nan=False)


def _finite(value: object) -> object:
    """`value` with NaN and Infinity, which a JSON parser may read but no JSON holds, as text,
    at any depth of the lists and objects it holds."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value
