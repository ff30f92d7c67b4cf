"""One error envelope for every refusal, with the caller's correlator echoed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from fastapi import FastAPI

from api.errors import ApiError, install_error_handlers
from api.observability import ObservabilityMiddleware
from tests.api.service import serving


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = FastAPI()
    app.add_middleware(ObservabilityMiddleware)  # echoes x-correlator, as in the service
    install_error_handlers(app)

    @app.get("/conflict")
    def conflict() -> None:
        raise ApiError(409, "CONFLICT", "The template is already under moderation")

    @app.get("/bug")
    def bug() -> None:
        raise RuntimeError("secret internals")

    with serving(app, lifespan="off") as url:
        yield url


def test_an_api_error_is_rendered_in_the_envelope(base_url: str) -> None:
    response = requests.get(f"{base_url}/conflict", headers={"x-correlator": "req-42"})

    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "CONFLICT",
        "message": "The template is already under moderation",
    }
    assert response.headers["x-correlator"] == "req-42"


def test_an_unexpected_error_shows_nothing_of_itself(base_url: str) -> None:
    response = requests.get(f"{base_url}/bug")

    assert response.status_code == 500
    assert response.json() == {"status": 500, "code": "INTERNAL", "message": "Server error"}
    assert "secret internals" not in response.text


def test_a_malformed_correlator_is_not_echoed(base_url: str) -> None:
    response = requests.get(f"{base_url}/conflict", headers={"x-correlator": "a b" * 200})

    assert "x-correlator" not in response.headers
