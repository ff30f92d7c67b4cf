"""`POST /v1/networks/{network}/events` and `POST /v1/sms/events`: what a real VK, OK or SMS
gateway reports (receipts, reads, replies, re-verification answers), signed the Standard
Webhooks way (`delivery/gateway_signatures.py`), handed to the notify service as `delivery.events`.

The signature is checked over the raw body before the body is parsed, so that what the gateway
did not sign is 401 whatever it holds (FastAPI would parse a declared body first, and answer 400
to an unsigned one that is not JSON); hence the body is read here and documented by hand. What
the signature's headers alone refuse (missing, malformed, stale) is refused before the body is
read at all.

A gateway retries until it gets a 2xx; a duplicate is absorbed by the idempotent handler. An
event dated after its report was signed is refused (400): a Yes a year ahead would keep the
number fresh for a year, and no batch would take it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from api.deps import InboundDep, SignedByGateway, SignedBySmsGateway
from api.inbound_schemas import (
    NETWORK_EXAMPLES,
    REPORT_CLOCK_SKEW,
    SMS_EXAMPLES,
    NetworkEventNotice,
    SmsEventNotice,
)
from api.schemas import ErrorInfo

router = APIRouter(prefix="/v1", tags=["gateways"])
ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorInfo} for status in (400, 401, 404)
}
NETWORK_NOTICE: TypeAdapter[NetworkEventNotice] = TypeAdapter(NetworkEventNotice)
SMS_NOTICE: TypeAdapter[SmsEventNotice] = TypeAdapter(SmsEventNotice)
T = TypeVar("T", bound=NetworkEventNotice | SmsEventNotice)


def _parsed(adapter: TypeAdapter[T], request: Request, body: bytes) -> T:
    """The signed body as its notice; 400 INVALID_ARGUMENT, as for any body, if it is not one
    or if it is dated after it was signed (the signature's check has read the stamp)."""
    try:
        notice = adapter.validate_json(body)
    except ValidationError as error:
        problems = error.errors(include_url=False, include_context=False)
        raise RequestValidationError(
            [{**problem, "loc": ("body", *problem["loc"])} for problem in problems]
        ) from None
    signed_at = datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), UTC)
    if notice.dated_after(signed_at):
        skew = int(REPORT_CLOCK_SKEW.total_seconds())
        message = f"is later than the report's webhook-timestamp by more than {skew} s"
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "at"), "msg": message, "input": notice.at}]
        )
    return notice


def _documented_body(adapter: TypeAdapter[Any], examples: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI `requestBody` FastAPI would have written, the schema inlined (its `$defs`
    have no place in the document)."""
    schema = adapter.json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].removeprefix("#/$defs/")])
            # the mapping names $defs; `propertyName` alone still tells the variants apart
            return {key: inline(value) for key, value in node.items() if key != "mapping"}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    content = {"schema": inline(schema), "examples": examples}
    return {"requestBody": {"required": True, "content": {"application/json": content}}}


@router.post(
    "/networks/{network}/events",
    status_code=204,
    responses=ERRORS,
    openapi_extra=_documented_body(NETWORK_NOTICE, NETWORK_EXAMPLES),
)
async def network_event(
    channel: SignedByGateway, request: Request, inbound: InboundDep
) -> Response:
    """A social network's gateway reports a delivery, a read, a reply or an answer."""
    notice = _parsed(NETWORK_NOTICE, request, await request.body())
    await run_in_threadpool(inbound.handle, notice.to_event(channel))
    return Response(status_code=204)


@router.post(
    "/sms/events",
    status_code=204,
    responses=ERRORS,
    openapi_extra=_documented_body(SMS_NOTICE, SMS_EXAMPLES),
)
async def sms_event(channel: SignedBySmsGateway, request: Request, inbound: InboundDep) -> Response:
    """The SMS gateway reports a delivery or a failure."""
    notice = _parsed(SMS_NOTICE, request, await request.body())
    await run_in_threadpool(inbound.handle, notice.to_event(channel))
    return Response(status_code=204)
