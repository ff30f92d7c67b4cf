"""Errors of the API: raised anywhere as `ApiError`, rendered in one place (DESIGN §6).

Every error leaves as `{"status", "code", "message"}` with CAMARA's codes. A request the
schema refuses is 400 INVALID_ARGUMENT; an unexpected failure is 500 INTERNAL and is logged,
never shown.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE_CONTENT",
    429: "TOO_MANY_REQUESTS",
    503: "UNAVAILABLE",
}


class ApiError(Exception):
    """An answer other than success, with its HTTP status, CAMARA code and a clear message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def invalid_argument(message: str) -> ApiError:
    return ApiError(400, "INVALID_ARGUMENT", message)


def out_of_range(message: str) -> ApiError:
    return ApiError(400, "OUT_OF_RANGE", message)


def identifier_not_found(message: str) -> ApiError:
    return ApiError(404, "IDENTIFIER_NOT_FOUND", message)


def missing_identifier(message: str) -> ApiError:
    return ApiError(422, "MISSING_IDENTIFIER", message)


def unavailable(message: str) -> ApiError:
    return ApiError(503, "UNAVAILABLE", message)


def envelope(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"status": status, "code": code, "message": message}, status_code=status)


def _validation_message(error: RequestValidationError) -> str:
    problems = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        problems.append(f"{where or 'body'}: {item.get('msg', 'invalid')}")
    return "; ".join(problems) or "the request body is not valid"


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return envelope(error.status, error.code, error.message)

    async def on_invalid_request(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        return envelope(400, "INVALID_ARGUMENT", _validation_message(error))

    async def on_http_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        code = HTTP_CODES.get(error.status_code, "INVALID_ARGUMENT")
        detail: Any = error.detail
        return envelope(error.status_code, code, str(detail))

    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected failure on %s %s", request.method, request.url.path)
        return envelope(500, "INTERNAL", "the service failed to answer; the failure is logged")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_invalid_request)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
