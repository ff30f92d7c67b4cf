"""Log lines never show a whole phone number, however the API's server was started."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from uvicorn.logging import AccessFormatter

from api.observability import mask_phone_numbers_in_logs
from pipelines.logs import OneLinePerRecord, url_shown


@pytest.fixture
def uvicorn_error_log() -> Iterator[tuple[logging.Handler, io.StringIO]]:
    """uvicorn's error log as uvicorn configures it when started without `ownership serve`."""
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    try:
        yield handler, written
    finally:
        logger.removeHandler(handler)


def test_a_server_started_without_serve_masks_numbers_with_or_without_their_plus(
    uvicorn_error_log: tuple[logging.Handler, io.StringIO],
) -> None:
    _, written = uvicorn_error_log
    mask_phone_numbers_in_logs()

    logging.getLogger("uvicorn.error").error(
        "check of %s from %s took %d ms", "+79234567823", "79161234567", 3
    )

    assert written.getvalue() == "check of +792* *** ** 23 from +791* *** ** 67 took 3 ms\n"


def test_short_figures_are_left_alone(
    uvicorn_error_log: tuple[logging.Handler, io.StringIO],
) -> None:
    _, written = uvicorn_error_log
    mask_phone_numbers_in_logs()

    logging.getLogger("uvicorn.error").error("served 1234567 numbers in 250 ms")

    assert written.getvalue() == "served 1234567 numbers in 250 ms\n"


def test_a_handler_serve_configured_gets_no_second_pass(
    uvicorn_error_log: tuple[logging.Handler, io.StringIO],
) -> None:
    handler, _ = uvicorn_error_log
    handler.addFilter(OneLinePerRecord(bare_digits=True))  # as server_log_config sets it

    mask_phone_numbers_in_logs()
    mask_phone_numbers_in_logs()

    assert len(handler.filters) == 1


def test_the_access_log_of_a_server_started_without_serve_masks_the_path_it_writes() -> None:
    written = io.StringIO()
    handler = logging.StreamHandler(written)  # as uvicorn configures its access log
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    access = logging.getLogger("uvicorn.access")
    level = access.level
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        mask_phone_numbers_in_logs()

        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:47678",
            "GET",
            "/79161234567?phone=%2B79031112233&q=79161234567\x1b[2J",
            "1.1",
            404,
        )
    finally:
        access.removeHandler(handler)
        access.setLevel(level)

    assert written.getvalue() == (
        '127.0.0.1:47678 - "GET /+791* *** ** 67?phone=+790* *** ** 33&q=+791* *** ** 67\\x1b[2J '
        'HTTP/1.1" '
        "404 Not Found\n"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://shop.example/hooks", "https://shop.example/hooks"),
        ("https://shop.example:8443/hooks?token=s3cret", "https://shop.example:8443/hooks?…"),
        ("https://bot:s3cret@shop.example/hooks", "https://shop.example/hooks"),
        ("https://[2001:db8::1]:8443/hooks#s3cret", "https://[2001:db8::1]:8443/hooks?…"),
        ("https://shop.example/\x1b[31mhooks", "https://shop.example/\\x1b[31mhooks"),
    ],
)
def test_a_url_is_logged_without_its_credentials_query_or_fragment(url: str, shown: str) -> None:
    assert url_shown(url) == shown
