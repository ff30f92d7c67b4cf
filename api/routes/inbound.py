"""`POST /v1/networks/{network}/events` and `POST /v1/sms/events`: what a real VK, OK or SMS
gateway reports (receipts, reads, replies, re-verification answers), signed the Standard
Webhooks way (`delivery/gateway_signatures.py`), handed to the notify service as `delivery.events`.

A gateway retries until it gets a 2xx; a duplicate is absorbed by the idempotent handler."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response
from starlette.concurrency import run_in_threadpool

from api.deps import InboundDep, SignedByGateway, SignedBySmsGateway
from api.inbound_schemas import (
    NETWORK_EXAMPLES,
    SMS_EXAMPLES,
    NetworkEventNotice,
    SmsEventNotice,
)
from api.schemas import ErrorInfo

router = APIRouter(prefix="/v1", tags=["gateways"])
ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorInfo} for status in (400, 401, 404)
}


@router.post("/networks/{network}/events", status_code=204, responses=ERRORS)
async def network_event(
    channel: SignedByGateway,
    notice: Annotated[NetworkEventNotice, Body(openapi_examples=NETWORK_EXAMPLES)],
    inbound: InboundDep,
) -> Response:
    """A social network's gateway reports a delivery, a read, a reply or an answer."""
    await run_in_threadpool(inbound.handle, notice.to_event(channel))
    return Response(status_code=204)


@router.post("/sms/events", status_code=204, responses=ERRORS)
async def sms_event(
    channel: SignedBySmsGateway,
    notice: Annotated[SmsEventNotice, Body(openapi_examples=SMS_EXAMPLES)],
    inbound: InboundDep,
) -> Response:
    """The SMS gateway reports a delivery or a failure."""
    await run_in_threadpool(inbound.handle, notice.to_event(channel))
    return Response(status_code=204)
