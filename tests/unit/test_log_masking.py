"""Log lines never show a whole phone number."""

from __future__ import annotations

import logging

from api.observability import MaskPhoneNumbers


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("api", logging.INFO, __file__, 1, message, args, None)


def test_numbers_in_a_log_line_are_masked() -> None:
    line = record("check of %s from %s took %d ms", "+79234567823", "79161234567", 3)

    MaskPhoneNumbers().filter(line)

    assert line.getMessage() == "check of +792* *** ** 23 from +791* *** ** 67 took 3 ms"


def test_short_figures_are_left_alone() -> None:
    line = record("served 1234567 numbers in 250 ms")

    MaskPhoneNumbers().filter(line)

    assert line.getMessage() == "served 1234567 numbers in 250 ms"
