"""The templates' settings: the admin token is long enough or unset, and fails fast."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipelines.moderation_rules import MODERATION_RULES
from pipelines.settings import ADMIN_TOKEN_MIN_LENGTH, load_settings


def test_no_admin_token_by_default_and_the_packaged_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OWNERSHIP_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("OWNERSHIP_MODERATION_RULES_PATH", raising=False)
    settings = load_settings()

    assert settings.admin_token is None
    assert settings.moderation_rules_path == MODERATION_RULES


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_admin_token_is_no_token(blank: str) -> None:
    assert load_settings(admin_token=blank).admin_token is None


def test_a_short_admin_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="admin_token"):
        load_settings(admin_token="x" * (ADMIN_TOKEN_MIN_LENGTH - 1))


def test_the_admin_token_is_never_shown() -> None:
    token = "t" * ADMIN_TOKEN_MIN_LENGTH

    assert token not in repr(load_settings(admin_token=token))
