"""Errors the API answers with, in one envelope (DESIGN §6), mapped to HTTP in one place.

`{"status": 401, "code": "UNAUTHENTICATED", "message": "..."}` with CAMARA's codes; the
request's `x-correlator` header, when well formed, is echoed back.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)

CORRELATOR = "x-correlator"
# CAMARA's pattern for x-correlator; anything else is not echoed
_CORRELATOR_PATTERN = re.compile(r"^[a-zA-Z0-9\-_:;./<>{}]{0,256}$")


class ApiError(Exception):
    """An answer other than success, raised anywhere below a route and rendered here."""

    def __init__(
        self,
        status: int,
        code: str,
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


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    answer_headers = dict(headers or {})
    correlator = request.headers.get(CORRELATOR)
    if correlator is not None and _CORRELATOR_PATTERN.match(correlator):
        answer_headers[CORRELATOR] = correlator
    return JSONResponse(
        {"status": status, "code": code, "message": message},
        status_code=status,
        headers=answer_headers,
    )


async def _api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    return error_response(request, error.status, error.code, error.message, error.headers)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    # the trace goes to the log, never to the caller
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(request, 500, "INTERNAL", "Server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(Exception, _unexpected)
