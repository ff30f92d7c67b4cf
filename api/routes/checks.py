"""`POST /v1/check` and `POST /v1/check/bulk` (DESIGN §6)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Body, Response

from api.checks import (
    CheckOptions,
    SinceInFutureError,
    check_number,
    check_numbers,
    find_number,
    options_at,
)
from api.deps import (
    AuthenticatedClientDep,
    AuthenticatedFirst,
    LiveOverlayDep,
    NowDep,
    PolicyDep,
    SnapshotDep,
)
from api.errors import invalid_argument, out_of_range
from api.schemas import (
    BULK_EXAMPLES,
    CHECK_EXAMPLES,
    RATE_LIMITED,
    BulkCheckRequest,
    BulkCheckResponse,
    CheckRequest,
    CheckResponse,
    ErrorInfo,
    JSONBytes,
)
from ownership.numbers import InvalidNumberError

router = APIRouter(prefix="/v1", tags=["checks"], route_class=AuthenticatedFirst)
ERRORS: dict[int | str, dict[str, object]] = {
    **{status: {"model": ErrorInfo} for status in (400, 401, 403, 503)},
    **RATE_LIMITED,
}


def _options(body: CheckRequest | BulkCheckRequest, now: datetime) -> CheckOptions:
    try:
        return options_at(now, body.since, body.sensitive, body.mobile_only)
    except SinceInFutureError as error:
        raise out_of_range(str(error)) from error


@router.post("/check", response_model=CheckResponse, responses=ERRORS)
async def check(
    body: Annotated[CheckRequest, Body(openapi_examples=CHECK_EXAMPLES)],
    client: AuthenticatedClientDep,
    snapshot: SnapshotDep,
    now: NowDep,
    policy: PolicyDep,
    overlay: LiveOverlayDep,
) -> Response:
    """Is this number still held by the person it was given by, and what should be done?"""
    options = _options(body, now)
    try:
        number, record = find_number(snapshot, body.phone)
    except InvalidNumberError as error:
        raise invalid_argument(str(error)) from error
    # the action by the client's own policy; a Yes counts for the service's F, as for all
    answer = check_number(
        snapshot,
        number,
        record,
        options,
        now,
        client.policy or policy,
        overlay.answers(number.key),
        policy.freshness,
    )
    return JSONBytes(orjson.dumps(answer))


@router.post("/check/bulk", response_model=BulkCheckResponse, responses=ERRORS)
def check_bulk(
    body: Annotated[BulkCheckRequest, Body(openapi_examples=BULK_EXAMPLES)],
    client: AuthenticatedClientDep,
    snapshot: SnapshotDep,
    now: NowDep,
    policy: PolicyDep,
    overlay: LiveOverlayDep,
) -> Response:
    """The same check for up to 10,000 numbers, answered in order; a bad number fails alone."""
    options = _options(body, now)
    answer = check_numbers(
        snapshot, body.phones, options, now, client.policy or policy, overlay, policy.freshness
    )
    return JSONBytes(answer.encode())
