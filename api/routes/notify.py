"""`POST /v1/notify`, `GET /v1/notifications/{id}` and `GET /v1/billing` (DESIGN §6, §7)."""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Query, Request, Response

from api.deps import AuthenticatedClientDep, AuthenticatedFirst, NotifyDep
from api.error_codes import ErrorCode
from api.errors import ApiError, invalid_argument, refuse_unknown_query
from api.observability import ACCEPTED
from api.schemas import (
    NOTIFY_EXAMPLES,
    RATE_LIMITED,
    BillingLine,
    BillingPublic,
    ErrorInfo,
    JSONBytes,
    NotificationAccepted,
    NotificationCreate,
    NotificationId,
    NotificationPublic,
    internal_address,
)
from delivery import records
from delivery.notify import NotifyRequest
from ownership.codes import ReverifyMethod
from ownership.notifications import SMS_VALIDITY_BOUND, TTL_BOUND, Fallback

router = APIRouter(prefix="/v1", tags=["notifications"], route_class=AuthenticatedFirst)
ERRORS: dict[int | str, dict[str, object]] = {
    **{status: {"model": ErrorInfo} for status in (400, 401, 403, 404, 409, 422, 503)},
    **RATE_LIMITED,
}
# a read refuses a malformed id or month, an unknown notification, never a conflict
READ_ERRORS = {status: answer for status, answer in ERRORS.items() if status not in (409, 422)}
REPLAYED = {
    "description": "`true` when the request_id was sent before with the same body: the answer "
    "is the first one's, and nothing is sent again; absent on a first answer",
    "schema": {"type": "string", "enum": ["true"]},
}
MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")  # ASCII digits, the whole text


@router.post(
    "/notify",
    status_code=202,
    response_model=NotificationAccepted,
    responses={202: {"headers": {"Idempotent-Replayed": REPLAYED}}, **ERRORS},
)
async def notify(
    body: Annotated[NotificationCreate, Body(openapi_examples=NOTIFY_EXAMPLES)],
    client: AuthenticatedClientDep,
    service: NotifyDep,
    http: Request,
) -> Response:
    """Send a notification: deliver it in VK or OK, ask first, or send it by SMS (DESIGN §7).

    `request_id` is an idempotency key: a repeat returns the first answer and sends nothing.
    """
    if body.callback_url and not http.app.state.private_callbacks:
        inside = internal_address(body.callback_url)
        if inside:
            raise invalid_argument(f"callback_url must be a public address: {inside}")
    request = NotifyRequest(
        request_id=body.request_id,
        phone=body.phone,
        template_id=body.template_id,
        params=body.params,
        action_type=body.action.type,
        action_at=body.action.at,
        ttl=TTL_BOUND.of_seconds(body.ttl),
        sms_validity=(
            None if body.sms_validity is None else SMS_VALIDITY_BOUND.of_seconds(body.sms_validity)
        ),
        sensitive=body.sensitive,
        mobile_only=body.mobile_only,
        fallback=Fallback(body.fallback),
        callback_url=str(body.callback_url) if body.callback_url else None,
        reverify=ReverifyMethod(body.reverify),
    )
    accepted = await service.accept_async(client.key, request, client.max_action_age, client.policy)
    if not accepted.repeated:
        ACCEPTED.labels(accepted.answer["action"]).inc()
    # the service's answer is the schema's already: serialised once, not validated again
    headers = {"Idempotent-Replayed": "true"} if accepted.repeated else None
    return JSONBytes(orjson.dumps(accepted.answer), status_code=202, headers=headers)


@router.get(
    "/notifications/{notification_id}", response_model=NotificationPublic, responses=READ_ERRORS
)
def notification(
    notification_id: NotificationId, client: AuthenticatedClientDep, service: NotifyDep
) -> NotificationPublic:
    """The notification with its status history; only its own client sees it."""
    found = service.notification(client.key, notification_id)
    if found is None:
        raise ApiError(
            404, ErrorCode.NOT_FOUND, f"no notification {notification_id} of this client"
        )
    return NotificationPublic.from_record(found)


@router.get("/billing", response_model=BillingPublic, responses=READ_ERRORS)
def billing(
    request: Request,
    client: AuthenticatedClientDep,
    service: NotifyDep,
    month: Annotated[
        str,
        Query(
            description="YYYY-MM: the UTC month of the deliveries' times",
            # documented, and checked below, so that a refusal names the month it was given
            json_schema_extra={"pattern": f"^{MONTH.pattern}$"},
        ),
    ],
) -> BillingPublic:
    """Delivered notifications of a month by channel, country and unit price (DESIGN §6).

    A delivery belongs to the UTC month of its delivery time; one its network reports later
    than it happened is dated back, and may move to the month before (README, "Billing").
    Each line has the unit `price` and its `amount`, `price` times `delivered`; a price changed
    within the month makes two lines. Amounts and prices are decimal strings with 4 places."""
    refuse_unknown_query(request, ("month",))
    if not MONTH.fullmatch(month):
        raise invalid_argument(f"month must be YYYY-MM, not {month!r}")
    with service.engine.connect() as connection:
        lines: list[dict[str, Any]] = records.billing_report(connection, client.key, month)
    return BillingPublic(
        month=month,
        lines=[BillingLine.model_validate(line) for line in lines],
        total=records.billing_total(lines),
        delivered=sum(line["delivered"] for line in lines),
    )
