"""The moderators' routes (`/v1/admin/…`), for operators holding the admin token, not clients.

Without `OWNERSHIP_ADMIN_TOKEN` they answer 404 and moderators use `ownership templates`.

The token is checked before a decision's body is parsed, so that a caller without it is 401
(or 404) whatever it sends: FastAPI parses a declared body first and would answer 400 to one
that is not JSON. Hence the body is read by a dependency after the token's and documented by
hand, as the gateways' routes do (api/routes/inbound.py).
"""

from __future__ import annotations

import email.message
import json
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.deps import OperatorDep, TemplateDeskDep
from api.error_codes import ErrorCode
from api.errors import ApiError, refuse_unknown_query
from api.schemas import ErrorInfo, TemplateId, TemplateIdText
from api.template_schemas import (
    DECISION_EXAMPLES,
    TemplateDecisionCreate,
    TemplateForModerator,
)
from ownership.moderation import TemplateStatus
from store.templates import (
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    TemplateAlreadyDecidedError,
    TemplateNotFoundError,
)

router = APIRouter(prefix="/v1/admin", tags=["admin"])
ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorInfo} for status in (400, 401, 404, 409, 503)
}
# `all` (or an empty value) lists every template whatever its status
StatusFilter = Literal["pending_moderation", "approved", "rejected", "all", ""]
PAGED: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A page of templates, oldest first.",
        "headers": {
            "Link": {
                "description": (
                    'When more templates follow: `<…?after=tpl_…>; rel="next"`, the same '
                    "listing from the last template of this page."
                ),
                "schema": {"type": "string"},
            }
        },
    }
}


@router.get(
    "/message_template", response_model=list[TemplateForModerator], responses={**ERRORS, **PAGED}
)
def list_templates(
    _operator: OperatorDep,
    desk: TemplateDeskDep,
    request: Request,
    response: Response,
    status: Annotated[StatusFilter, Query()] = "pending_moderation",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = PAGE_SIZE,
    after: Annotated[TemplateIdText | None, Query(examples=["tpl_3f9a0c1d2e4b5a69"])] = None,
) -> list[TemplateForModerator]:
    """Templates oldest first, `limit` at a time (by default the moderators' queue, longest
    waiting first). A `Link` header with `rel="next"` says that more follow, and where."""
    refuse_unknown_query(request, ("status", "limit", "after"))
    chosen = TemplateStatus(status) if status not in ("all", "") else None
    try:
        page = desk.list(chosen, limit=limit, after=after)
    except TemplateNotFoundError as error:
        raise ApiError(400, ErrorCode.INVALID_ARGUMENT, f"after: {error}") from error
    if page.next_after:
        query = urlencode({"status": status, "limit": limit, "after": page.next_after})
        response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
    names = desk.client_names(record.client_key for record in page.records)
    return [TemplateForModerator.of_client(record, names) for record in page.records]


async def decision_body(request: Request) -> TemplateDecisionCreate:
    """The decision in the body, read as FastAPI reads a declared one (as JSON when sent as
    JSON, else as bytes no decision is), so that a body it refuses is answered alike: 400
    INVALID_ARGUMENT in the same words (api/errors.py)."""
    raw = await request.body()
    if not raw:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    document: Any = raw
    if _sent_as_json(request.headers.get("content-type", "")):
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError) as error:
            match error:
                case json.JSONDecodeError():
                    at, why = error.pos, error.msg
                case UnicodeDecodeError():
                    at, why = error.start, "not UTF-8"
                case RecursionError():  # thousands of brackets deep: no decision is
                    at, why = 0, "nested too deeply"
                case _:  # an integer of thousands of digits, which Python refuses to read
                    at, why = 0, "an integer of too many digits"
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body", at),
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": why},
                    }
                ]
            ) from None
    try:
        return TemplateDecisionCreate.model_validate(document)
    except ValidationError as error:
        problems = error.errors(include_url=False, include_context=False)
        raise RequestValidationError(
            [{**problem, "loc": ("body", *problem["loc"])} for problem in problems]
        ) from None


def _sent_as_json(content_type: str) -> bool:
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


DECISION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": TemplateDecisionCreate.model_json_schema(),
                "examples": DECISION_EXAMPLES,
            }
        },
    }
}


@router.post(
    "/message_template/{template_id}/decision",
    response_model=TemplateForModerator,
    responses=ERRORS,
    openapi_extra=DECISION_BODY,
)
def decide_template(
    template_id: TemplateId,
    _operator: OperatorDep,  # before the body: no token, no parsing
    desk: TemplateDeskDep,
    body: Annotated[TemplateDecisionCreate, Depends(decision_body)],
) -> TemplateForModerator:
    """Approve or reject a template waiting for a moderator; the client is told by webhook.
    A template already decided is 409."""
    by = f"admin:{body.moderator}" if body.moderator else "admin"
    try:
        record = desk.decide(template_id, body.chosen(), note=body.note, by=by)
    except TemplateNotFoundError as error:
        raise ApiError(404, ErrorCode.NOT_FOUND, str(error)) from error
    except TemplateAlreadyDecidedError as error:
        raise ApiError(409, ErrorCode.CONFLICT, str(error)) from error
    return TemplateForModerator.of_client(record, desk.client_names([record.client_key]))
