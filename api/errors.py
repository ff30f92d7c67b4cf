"""Errors the API answers with, in one envelope (DESIGN §6), mapped to HTTP in one place.

Every error leaves as `{"status", "code", "message"}` with CAMARA's codes and the service's
own, each an `ErrorCode` (api.error_codes), which the schema publishes. A request the schema
refuses is 400 INVALID_ARGUMENT; an unexpected failure is 500 INTERNAL and is logged, never
shown. A caller that hangs up before its body is all sent is answered 400 (to no one) and not
logged: nothing went wrong here. The `x-correlator` echo is the observability middleware's,
for errors and answers alike, but for a 500: Starlette answers it from its outermost
middleware, so its handler echoes it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import InterfaceError, InternalError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from api.error_codes import ErrorCode
from api.observability import well_formed_correlator
from api.serving import SnapshotUnavailableError
from delivery.events import AnswerKindError
from delivery.notify import RequestConflictError
from delivery.ports import TemplateProblem, TemplateProblemError
from ownership.notifications import NotificationRequestError, RequestProblem
from ownership.numbers import InvalidNumberError
from pipelines.logs import FailureStreaks, first_line

log = logging.getLogger(__name__)

E = ErrorCode
# the code of an HTTPException (Starlette's 404 and 405, FastAPI's 400, api.limits' 413) by its
# status; a status nothing here raises is answered INVALID_ARGUMENT, a code the schema lists
HTTP_CODES: dict[int, ErrorCode] = {
    400: E.INVALID_ARGUMENT,
    401: E.UNAUTHENTICATED,
    403: E.PERMISSION_DENIED,
    404: E.NOT_FOUND,
    405: E.METHOD_NOT_ALLOWED,
    409: E.CONFLICT,
    413: E.PAYLOAD_TOO_LARGE,
    503: E.UNAVAILABLE,
}


class ApiError(Exception):
    """An answer other than success, raised anywhere below a route and rendered here."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.code!r}, {self.message!r})"


def invalid_argument(message: str) -> ApiError:
    return ApiError(400, E.INVALID_ARGUMENT, message)


def refuse_unknown_query(request: Request, known: tuple[str, ...]) -> None:
    """400 for a query parameter the route does not take, or one given twice: a filter it does
    not know would be ignored, and the whole answer taken for the filtered one. OAuth's own
    parameters may sign a call in its query (RFC 5849 §3.5.3)."""
    params = request.query_params
    unknown = sorted(
        {name for name in params if name not in known and not name.startswith("oauth_")}
    )
    if unknown:
        raise invalid_argument(
            f"unknown query parameter {unknown[0]!r}: this takes {', '.join(known)}"
        )
    for name in known:
        if len(params.getlist(name)) > 1:
            raise invalid_argument(f"{name} is given more than once")


def out_of_range(message: str) -> ApiError:
    return ApiError(400, E.OUT_OF_RANGE, message)


def identifier_not_found(message: str) -> ApiError:
    return ApiError(404, E.IDENTIFIER_NOT_FOUND, message)


def missing_identifier(message: str) -> ApiError:
    return ApiError(422, E.MISSING_IDENTIFIER, message)


def unavailable(message: str) -> ApiError:
    return ApiError(503, E.UNAVAILABLE, message)


def error_response(
    status: int, code: ErrorCode, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"status": status, "code": code, "message": message},
        status_code=status,
        headers=dict(headers or {}),
    )


def _validation_message(error: RequestValidationError) -> str:
    problems = []
    for item in error.errors()[:5]:
        location = tuple(item.get("loc", ()))
        if item.get("type") == "json_invalid":  # located by a character offset, not a field
            reason = item.get("ctx", {}).get("error", "malformed")
            problems.append(f"the body is not valid JSON: {reason} at character {location[-1]}")
            continue
        if location == ("body",) and isinstance(item.get("input"), bytes):
            problems.append("the body must be a JSON object, sent as application/json")
            continue
        where = ".".join(str(part) for part in location if part != "body")
        # our validators' own words, without pydantic's label for how they refused
        said = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{where or 'body'}: {said}")
    return "; ".join(problems) or "the request body is not valid"


async def _api_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(error.status, error.code, error.message, error.headers)


async def _invalid_request(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return error_response(400, E.INVALID_ARGUMENT, _validation_message(error))


CUT_SHORT = "The request body was cut short"


async def _cut_short(_request: Request, error: Exception) -> JSONResponse:
    # wherever the body is read (the signature's check, a route, a gateway's event): the caller
    # is gone, so the answer is never sent, but it counts as the 400 it is, not as a 500
    assert isinstance(error, ClientDisconnect)
    return error_response(400, E.INVALID_ARGUMENT, CUT_SHORT)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = HTTP_CODES.get(error.status_code, E.INVALID_ARGUMENT)
    headers = dict(error.headers or {})
    route = request.scope.get("route")
    if error.status_code == 405 and isinstance(route, APIRoute):
        # Starlette names the methods of the one route it tried; a path may have several
        # (`/healthz` a GET and a HEAD; it said `Allow: HEAD`)
        methods = getattr(request.app.state, "methods_by_path", {}).get(route.path_format)
        headers["Allow"] = ", ".join(sorted(methods or route.methods or ()))
    return error_response(error.status_code, code, str(error.detail), headers)


# domain errors raised below the routes, and the answer each gets
NOTIFY_PROBLEMS: dict[RequestProblem, tuple[int, ErrorCode]] = {
    RequestProblem.TTL_OUT_OF_RANGE: (400, E.OUT_OF_RANGE),
    RequestProblem.SMS_VALIDITY_OUT_OF_RANGE: (400, E.OUT_OF_RANGE),
    RequestProblem.ACTION_IN_FUTURE: (400, E.OUT_OF_RANGE),
    RequestProblem.STALE_ACTION: (422, E.STALE_ACTION),
    RequestProblem.MISSING_PARAMS: (422, E.MISSING_PARAMS),
    RequestProblem.UNKNOWN_PARAMS: (422, E.UNKNOWN_PARAMS),
    RequestProblem.COUNTRY_NOT_SERVED: (422, E.SERVICE_NOT_APPLICABLE),
}
TEMPLATE_PROBLEMS: dict[TemplateProblem, tuple[int, ErrorCode]] = {
    TemplateProblem.TEMPLATE_NOT_FOUND: (404, E.TEMPLATE_NOT_FOUND),
    TemplateProblem.TEMPLATE_NOT_APPROVED: (422, E.TEMPLATE_NOT_APPROVED),
    TemplateProblem.MESSAGE_TOO_LONG: (422, E.MESSAGE_TOO_LONG),
    TemplateProblem.PROMOTIONAL_PARAMS: (422, E.PROMOTIONAL_PARAMS),
}


async def _domain_error(_request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, InvalidNumberError):
        return error_response(400, E.INVALID_ARGUMENT, str(error))
    if isinstance(error, NotificationRequestError):
        status, code = NOTIFY_PROBLEMS[error.problem]
        return error_response(status, code, str(error))
    if isinstance(error, TemplateProblemError):
        status, code = TEMPLATE_PROBLEMS[error.problem]
        return error_response(status, code, str(error))
    if isinstance(error, AnswerKindError):
        # a gateway's report off what the notification asked: it is wrong however often sent
        return error_response(400, E.INVALID_ARGUMENT, str(error))
    if isinstance(error, SnapshotUnavailableError):
        log.warning("%s", error)  # where it looked is for the operator, not the caller
        return error_response(
            503, E.UNAVAILABLE, "no scores are published yet; the operator runs `ownership score`"
        )
    assert isinstance(error, RequestConflictError)
    return error_response(409, E.CONFLICT, str(error))


# PostgreSQL's SQLSTATE for a write refused by a read-only transaction or standby
READ_ONLY_SQL_TRANSACTION = "25006"


class StoreUnreachable:
    """The store down or its connection cut: the caller may try again, the operator is told, in
    one line, the error's class and first line (its SQL and parameters, a consumer key and a
    nonce among them, stay out of the log). A store down for a minute fails every request: the
    first of each kind is told, more of it counted in a line a minute (`FailureStreaks`)."""

    def __init__(self, streaks: FailureStreaks | None = None) -> None:
        self.streaks = streaks or FailureStreaks()

    def works(self) -> None:
        """The store answered a call's authentication (its nonce was kept): a run of failures
        has ended, unless one came within the last seconds (the call's own query may fail yet:
        a statement time-out its nonce's insert did not meet)."""
        failed = self.streaks.ended("store")
        if failed:
            log.info("the store answers again, after %d failed requests", failed)

    async def __call__(self, request: Request, error: Exception) -> JSONResponse:
        telling = self.streaks.failed("store", error)
        if telling is not None and telling.first:
            log.error(
                "the store failed on %s %s: %s",
                request.method,
                request.url.path,
                first_line(error),
            )
        elif telling is not None:
            log.error(
                "the store failed %d more times the same way, last on %s %s: %s",
                telling.untold,
                request.method,
                request.url.path,
                first_line(error),
            )
        return error_response(
            503, E.UNAVAILABLE, "The service's store cannot be reached; try again"
        )


def _server_error(request: Request) -> JSONResponse:
    # the trace goes to the log, never to the caller
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, E.INTERNAL, "Server error")


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    # run outside the middleware, as Starlette runs the handler of `Exception`: the
    # x-correlator is added here
    answer = _server_error(request)
    correlator = well_formed_correlator(request.scope)
    if correlator is not None:
        answer.headers["x-correlator"] = correlator.decode()
    return answer


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _cut_short)
    for domain_error in (
        InvalidNumberError,
        NotificationRequestError,
        TemplateProblemError,
        RequestConflictError,
        SnapshotUnavailableError,
        AnswerKindError,
    ):
        app.add_exception_handler(domain_error, _domain_error)
    # a store down, cut off or busy: any other database error is a fault of ours, a 500
    store_unreachable = StoreUnreachable()  # each app its own count
    app.state.store_unreachable = store_unreachable
    for store_error in (OperationalError, InterfaceError, PoolTimeoutError):
        app.add_exception_handler(store_error, store_unreachable)

    async def read_only_or_unexpected(request: Request, error: Exception) -> JSONResponse:
        # a store that takes no writes (a standby after a failover, a database set read-only)
        # answers again once the operator points the service at its primary; any other
        # InternalError (a transaction of ours left failed) is a fault of ours, a 500
        if getattr(getattr(error, "orig", None), "sqlstate", None) == READ_ONLY_SQL_TRANSACTION:
            return await store_unreachable(request, error)
        return _server_error(request)  # inside the middleware, which adds the x-correlator

    app.add_exception_handler(InternalError, read_only_or_unexpected)
    app.add_exception_handler(Exception, _unexpected)
    _document_refusals_as_answered(app)


# FastAPI documents a request its schema refuses as 422 with these; `_invalid_request` answers 400
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _document_refusals_as_answered(app: FastAPI) -> None:
    """Drop FastAPI's 422 `HTTPValidationError` from the OpenAPI document: such a request is
    answered 400 INVALID_ARGUMENT in the envelope, which every route documents. A 422 a route
    declares itself (CAMARA's MISSING_IDENTIFIER) stays."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()  # FastAPI keeps it in app.openapi_schema as well
        references = [f"#/components/schemas/{name}" for name in FASTAPI_VALIDATION_SCHEMAS]
        # a webhook's too: what a client answers the service is not FastAPI's to say
        operated = [*schema.get("paths", {}).values(), *schema.get("webhooks", {}).values()]
        for operations in operated:
            for operation in operations.values():
                responses = operation.get("responses", {})
                if references[0] in json.dumps(responses.get("422", {})):
                    del responses["422"]
        if not any(reference in json.dumps(operated) for reference in references):
            for name in FASTAPI_VALIDATION_SCHEMAS:
                schema.get("components", {}).get("schemas", {}).pop(name, None)
        for operations in schema.get("paths", {}).values():
            for method, operation in operations.items():
                _document_what_every_route_answers(method, operation)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's way to extend the document


# the correlator a caller may send, echoed on every answer (api.observability.CORRELATOR)
CORRELATOR_PATTERN = r"^[a-zA-Z0-9\-_:;./<>{}]{0,256}$"
CORRELATOR_PARAMETER = {
    "name": "x-correlator",
    "in": "header",
    "required": False,
    "description": "A correlation id of the caller's, echoed back in the answer's header",
    "schema": {"type": "string", "pattern": CORRELATOR_PATTERN},
}
ERROR_ENVELOPE = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorInfo"}}}


# methods whose body, if any, api.limits bounds: one that declares none is answered 413 too
BODY_METHODS = frozenset({"post", "put", "patch"})
# the challenge of a 401 by the route's security scheme (a gateway's route sends none)
CHALLENGES = {"OAuth1": 'OAuth realm="ownership"', "AdminToken": 'Bearer realm="admin"'}


def _document_what_every_route_answers(method: str, operation: dict[str, Any]) -> None:
    """What the middleware answers on every route, which no route declares: the echoed
    `x-correlator`, 413 for a body past OWNERSHIP_MAX_BODY_BYTES (api.limits), and the
    challenge of a 401."""
    parameters = operation.setdefault("parameters", [])
    if not any(parameter.get("name") == "x-correlator" for parameter in parameters):
        parameters.append(CORRELATOR_PARAMETER)
    responses = operation.setdefault("responses", {})
    if (method in BODY_METHODS or "requestBody" in operation) and "413" not in responses:
        responses["413"] = {"description": "Payload Too Large", "content": ERROR_ENVELOPE}
    schemes = {name for requirement in operation.get("security", []) for name in requirement}
    for scheme in sorted(schemes & CHALLENGES.keys()):
        if "401" in responses:
            responses["401"].setdefault("headers", {})["WWW-Authenticate"] = {
                "description": "How to authenticate",
                "schema": {"type": "string", "enum": [CHALLENGES[scheme]]},
            }
    for response in responses.values():
        response.setdefault("headers", {})["x-correlator"] = {
            "description": "The request's x-correlator, when it sent a well-formed one",
            "schema": {"type": "string", "pattern": CORRELATOR_PATTERN},
        }
