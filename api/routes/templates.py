"""`POST /v1/message_template` and `GET /v1/message_template/{id}` (DESIGN §6, §7)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response

from api.deps import AuthenticatedClientDep, AuthenticatedFirst, TemplateDeskDep
from api.error_codes import ErrorCode
from api.errors import ApiError
from api.schemas import RATE_LIMITED, ErrorInfo, TemplateId
from api.template_schemas import TEMPLATE_EXAMPLES, TemplateCreate, TemplatePublic

router = APIRouter(prefix="/v1", tags=["templates"], route_class=AuthenticatedFirst)
ERRORS: dict[int | str, dict[str, object]] = {
    **{status: {"model": ErrorInfo} for status in (400, 401, 403, 404, 503)},
    **RATE_LIMITED,
}

LOCATION = {
    "description": "The template's own path, where GET answers its status and reasons",
    "schema": {"type": "string", "example": "/v1/message_template/tpl_5f0c2a9e1b7d4c3a"},
}


def template_not_found(template_id: str) -> ApiError:
    return ApiError(404, ErrorCode.NOT_FOUND, f"no template {template_id!r} of this client")


# plain `def`: the store is blocking I/O, so these run in the thread pool
@router.post(
    "/message_template",
    status_code=201,
    response_model=TemplatePublic,
    responses={201: {"headers": {"Location": LOCATION}}, **ERRORS},
)
def submit_template(
    body: Annotated[TemplateCreate, Body(openapi_examples=TEMPLATE_EXAMPLES)],
    client: AuthenticatedClientDep,
    desk: TemplateDeskDep,
    response: Response,
) -> TemplatePublic:
    """Submit a template. One the automatic moderation refuses is stored `rejected` with its
    reasons; one it passes is `pending_moderation` until a moderator decides, and the client
    hears the outcome by a `template.status` webhook."""
    record = desk.submit(client.key, body.draft())
    response.headers["Location"] = f"/v1/message_template/{record.id}"
    return TemplatePublic.of(record)


@router.get("/message_template/{template_id}", response_model=TemplatePublic, responses=ERRORS)
def get_template(
    template_id: TemplateId, client: AuthenticatedClientDep, desk: TemplateDeskDep
) -> TemplatePublic:
    """A template of the calling client, with its status and reasons; another's is 404."""
    record = desk.find(template_id, client.key)
    if record is None:
        raise template_not_found(template_id)
    return TemplatePublic.of(record)
