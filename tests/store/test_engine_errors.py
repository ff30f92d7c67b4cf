"""The store's errors are logged, so they never quote a statement's parameters: a number, a
notification's text or one-time code, a token in a callback URL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError


def test_a_refused_statement_does_not_quote_its_parameters(engine: Engine) -> None:
    with pytest.raises(DBAPIError) as refused, engine.connect() as connection:
        connection.execute(
            text("insert into no_such_table (url) values (:url)"),
            {"url": "https://shop.example/hooks?token=s3cret"},
        )

    assert "s3cret" not in str(refused.value)
    assert "no_such_table" in str(refused.value)
