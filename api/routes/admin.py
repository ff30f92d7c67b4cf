"""The moderators' routes (`/v1/admin/…`), for operators holding the admin token, not clients.

Without `OWNERSHIP_ADMIN_TOKEN` they answer 404 and moderators use `ownership templates`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from api.deps import OperatorDep, TemplateDeskDep
from api.errors import ApiError
from api.schemas import ErrorInfo
from api.template_schemas import DECISION_EXAMPLES, TemplateDecisionCreate, TemplatePublic
from ownership.moderation import TemplateStatus
from store.templates import TemplateAlreadyDecidedError, TemplateNotFoundError

router = APIRouter(prefix="/v1/admin", tags=["admin"])
ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorInfo} for status in (400, 401, 404, 409, 503)
}
TemplateId = Annotated[str, Path(max_length=32, examples=["tpl_3f9a0c1d2e4b5a69"])]


@router.get("/message_template", response_model=list[TemplatePublic], responses=ERRORS)
def list_templates(
    _operator: OperatorDep,
    desk: TemplateDeskDep,
    status: Annotated[TemplateStatus | None, Query()] = TemplateStatus.PENDING_MODERATION,
) -> list[TemplatePublic]:
    """Templates oldest first; by default the moderators' queue."""
    return [TemplatePublic.of(record) for record in desk.list(status)]


@router.post(
    "/message_template/{template_id}/decision",
    response_model=TemplatePublic,
    responses=ERRORS,
)
def decide_template(
    template_id: TemplateId,
    body: Annotated[TemplateDecisionCreate, Body(openapi_examples=DECISION_EXAMPLES)],
    _operator: OperatorDep,
    desk: TemplateDeskDep,
) -> TemplatePublic:
    """Approve or reject a template waiting for a moderator; the client is told by webhook.
    A template already decided is 409."""
    by = f"admin:{body.moderator}" if body.moderator else "admin"
    try:
        record = desk.decide(template_id, body.chosen(), note=body.note, by=by)
    except TemplateNotFoundError as error:
        raise ApiError(404, "NOT_FOUND", str(error)) from error
    except TemplateAlreadyDecidedError as error:
        raise ApiError(409, "CONFLICT", str(error)) from error
    return TemplatePublic.of(record)
