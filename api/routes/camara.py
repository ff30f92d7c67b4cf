"""CAMARA Number Recycling (v0.2) and KYC Tenure (v0.3), with CAMARA's error semantics.

A date D asks about the whole day: the number "changed after D" when its current holder's
first evidence is later than D's last second, or when no holder has shown since the number
changed hands (the service vouches for none), and "held since D" otherwise. A date later than
today in every time zone, or earlier than the history's coverage, is 400 OUT_OF_RANGE; a number
without history, or one of CAMARA's form that no operator issues, is 404 IDENTIFIER_NOT_FOUND;
a call without `phoneNumber` is 422 MISSING_IDENTIFIER.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Body

from api.deps import AuthenticatedClientDep, AuthenticatedFirst, LiveOverlayDep, NowDep, SnapshotDep
from api.errors import identifier_not_found, missing_identifier, out_of_range
from api.schemas import (
    RATE_LIMITED,
    RECYCLING_EXAMPLES,
    TENURE_EXAMPLES,
    ErrorInfo,
    NumberRecyclingRequest,
    NumberRecyclingResponse,
    TenureRequest,
    TenureResponse,
)
from delivery.overlay import LiveOverlay
from ownership.live import with_live_answers
from ownership.numbers import InvalidNumberError, PhoneNumber, parse_number
from ownership.verdicts import NO_HISTORY_VERDICT, Verdict, latest_today, whole_day_since
from pipelines.snapshot import Snapshot

router = APIRouter(tags=["CAMARA"], route_class=AuthenticatedFirst)
ERRORS: dict[int | str, dict[str, object]] = {
    **{status: {"model": ErrorInfo} for status in (400, 401, 403, 404, 422, 503)},
    **RATE_LIMITED,
}


def _verdict_on(
    snapshot: Snapshot,
    overlay: LiveOverlay,
    phone: str | None,
    day: date,
    now: datetime,
    field: str,
) -> tuple[Verdict, datetime]:
    """The number's verdict, with the answers given since the batch on top, and the last
    moment of `day`, after CAMARA's checks."""
    today = latest_today(now)
    if phone is None:
        raise missing_identifier("phoneNumber is required: the caller's token names no number")
    number: PhoneNumber | None = None
    unissued: str | None = None
    try:
        number = parse_number(phone)
    except InvalidNumberError as error:
        unissued = f"{error}: no operator issues it"
    if number is not None and number.e164 != phone:
        # a national prefix kept ("+789…"): the answer would name another number
        unissued = (
            f"{phone!r} is no number as written: it reads as {number.masked}, without the "
            "national prefix"
        )
    if day > today:
        raise out_of_range(f"{field} {day} is in the future")
    coverage = snapshot.coverage_from
    if coverage is None or day < coverage.date():
        start = coverage.date() if coverage else "nothing"
        raise out_of_range(f"{field} {day} precedes the history, which starts on {start}")
    # the text has CAMARA's form (the schema's pattern), so it is a number that is not found
    if number is None or unissued is not None:
        raise identifier_not_found(unissued or phone)
    record = snapshot.lookup(number.key)
    verdict = record.verdict() if record else NO_HISTORY_VERDICT
    live = overlay.answers(number.key)
    verdict = with_live_answers(verdict, live, now, overlay.freshness)
    # by the verdict, not by owner_since: an owner_changed number with no holder known since
    # the change has none either, and answers (recycled, not held) rather than 404
    if not verdict.has_history:
        raise identifier_not_found(f"{number.masked} has no history")
    return verdict, whole_day_since(day)


@router.post(
    "/number-recycling/v0.2/check",
    response_model=NumberRecyclingResponse,
    responses=ERRORS,
    operation_id="checkNumberRecycling",
)
async def check_number_recycling(
    body: Annotated[NumberRecyclingRequest, Body(openapi_examples=RECYCLING_EXAMPLES)],
    _client: AuthenticatedClientDep,
    snapshot: SnapshotDep,
    now: NowDep,
    overlay: LiveOverlayDep,
) -> NumberRecyclingResponse:
    """Has the number changed hands after `specifiedDate`?"""
    verdict, moment = _verdict_on(
        snapshot, overlay, body.phoneNumber, body.specifiedDate, now, "specifiedDate"
    )
    changed = verdict.changed_since(moment, snapshot.coverage_from)
    return NumberRecyclingResponse(phoneNumberRecycled=bool(changed))


@router.post(
    "/kyc-tenure/v0.3/check-tenure",
    response_model=TenureResponse,
    responses=ERRORS,
    operation_id="checkTenure",
)
async def check_tenure(
    body: Annotated[TenureRequest, Body(openapi_examples=TENURE_EXAMPLES)],
    _client: AuthenticatedClientDep,
    snapshot: SnapshotDep,
    now: NowDep,
    overlay: LiveOverlayDep,
) -> TenureResponse:
    """Has the current holder held the number continuously since `tenureDate`?"""
    verdict, moment = _verdict_on(
        snapshot, overlay, body.phoneNumber, body.tenureDate, now, "tenureDate"
    )
    held = verdict.held_since(moment, snapshot.coverage_from)
    return TenureResponse(tenureDateCheck=bool(held))
