"""`ownership.moderation` on a tiny rule table of its own: what each reason means."""

from __future__ import annotations

import re
from types import MappingProxyType

import pytest

from ownership.message_text import sms_parts
from ownership.moderation import (
    Category,
    CategoryRule,
    LengthLimits,
    ModerationReason,
    ModerationRules,
    Part,
    PromotionRule,
    TemplateDraft,
    fill,
    moderate,
    placeholder_names,
    render_message,
)

NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
RULES = ModerationRules(
    version="test",
    placeholder_name=NAME,
    limits=LengthLimits(sms_max_parts=2, social_max_chars=200),
    promotions=(
        PromotionRule.of(
            "DISCOUNT", "a discount", [r"\bскидк\w*", r"\bdiscount\b"], [r"с учетом скидки"]
        ),
        PromotionRule.of("BONUS", "a bonus", [r"\bbonus\b"]),
    ),
    categories=MappingProxyType(
        {Category.OTP: CategoryRule(frozenset({"code"}), tail_allowed=False)}
    ),
    min_fixed_letters=3,
)


def reasons(
    text: str, samples: dict[str, str | list[str]] | None = None, tail: str = ""
) -> tuple[str, ...]:
    return moderate(TemplateDraft.of(text, Category.SERVICE, samples, tail), RULES).reasons


def test_an_empty_body_is_empty_and_nothing_else() -> None:
    assert reasons("  \n", tail="Скидка!") == (ModerationReason.EMPTY,)


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("Заказ #na me# готов", "#na me#"),
        ("Заказ #заказ# готов", "#заказ#"),
        ("Заказ #Order# готов", "#Order#"),
        ("Заказ #order готов", "#"),
    ],
)
def test_a_malformed_placeholder_is_an_invalid_format_at_its_place(text: str, matched: str) -> None:
    result = moderate(TemplateDraft.of(text, Category.SERVICE), RULES)

    assert result.reasons == (ModerationReason.INVALID_FORMAT,)
    (finding,) = result.findings
    assert finding.matched == matched
    assert text[finding.start : finding.end] == matched


def test_placeholders_and_samples_must_agree() -> None:
    result = moderate(
        TemplateDraft.of(
            "Заказ #order# на #date#", Category.SERVICE, {"order": ["  "], "odrer": "1"}
        ),
        RULES,
    )

    assert [(f.reason, f.matched) for f in result.findings] == [
        (ModerationReason.UNDECLARED_PLACEHOLDER, "#date#"),
        (ModerationReason.MISSING_SAMPLE, "order"),
        (ModerationReason.UNUSED_SAMPLE, "odrer"),
    ]


def test_a_body_of_placeholders_alone_has_no_fixed_text() -> None:
    assert reasons("#a#: #b#!", {"a": "x", "b": "y"}) == (ModerationReason.NO_FIXED_TEXT,)


def test_promotion_is_found_in_the_body_and_excused_in_a_receipt_or_the_tail() -> None:
    assert reasons("Скидка на всё") == (ModerationReason.PROMOTIONAL,)
    assert reasons("Списано с учетом скидки #sum#", {"sum": "10"}) == ()
    assert reasons("Ваш заказ готов", tail="Скидка на всё") == ()


def test_a_placeholder_name_is_not_promotional_but_its_sample_is() -> None:
    assert reasons("Начислено #bonus# баллов", {"bonus": "120"}) == ()

    result = moderate(
        TemplateDraft.of("Ваш заказ: #item#", Category.SERVICE, {"item": ["чай", "bonus"]}),
        RULES,
    )
    (finding,) = result.findings
    assert (finding.reason, finding.part, finding.matched) == (
        ModerationReason.PROMOTIONAL,
        Part.SAMPLES,
        "bonus",
    )


def test_the_longest_sample_and_the_tail_count_toward_the_length() -> None:
    body = "Заказ #order# готов"  # 12 letters, spaces and the sample: 2 UCS-2 parts is 134
    short, long = "1", "1" * 110
    assert reasons(body, {"order": [short, long]}) == ()
    assert reasons(body, {"order": [short, long + "1" * 20]}) == (ModerationReason.TOO_LONG,)
    assert reasons(body, {"order": long}, tail="реклама " * 2) == (ModerationReason.TOO_LONG,)


def test_category_rules_apply_to_their_category_only() -> None:
    otp = TemplateDraft.of("Ваш пароль #pin#", Category.OTP, {"pin": "1234"}, tail="Магазин")

    assert moderate(otp, RULES).reasons == (
        ModerationReason.MISSING_REQUIRED_PLACEHOLDER,
        ModerationReason.TAIL_NOT_ALLOWED,
    )
    assert reasons("Ваш пароль #pin#", {"pin": "1234"}, tail="Магазин") == ()


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),  # 153 a part once concatenated
        ("a" * 306, 2),
        ("{" * 80, 1),  # an extension character takes two septets
        ("{" * 81, 2),
        ("я" * 70, 1),
        ("я" * 71, 2),  # 67 a part
        ("я" * 134, 2),
        ("a" * 69 + "😀", 2),  # an emoji is two UTF-16 units
    ],
)
def test_sms_parts_follow_the_alphabet(text: str, parts: int) -> None:
    assert sms_parts(text) == parts


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("😀" * 35, 1),  # 70 units fit one SMS
        ("😀" * 201, 7),  # 402 units, but 66 a part: 67 would split an emoji
        ("я" * 66 + "😀" + "я" * 334, 7),  # 402 units: the emoji moves whole to part two
        ("я" * 65 + "😀" + "я" * 335, 6),  # 402 units, the emoji ending part one
        ("a" * 152 + "€" + "a" * 764, 7),  # 918 septets, but the escape would end part one
        ("a" * 151 + "€" + "a" * 765, 6),  # the escape and its € both in part one
        ("{" * 80, 1),
        ("{" * 456, 6),  # 76 pairs a part: 152 septets, not 153
        ("{" * 457, 7),
    ],
)
def test_a_part_never_ends_inside_an_emoji_or_an_escape(text: str, parts: int) -> None:
    assert sms_parts(text) == parts


def test_fill_replaces_the_placeholders_it_has_values_for() -> None:
    assert fill("#a#, #b#! #a#", {"a": "1"}, NAME) == "1, #b#! 1"


def test_a_notification_renders_body_and_tail_with_its_params() -> None:
    draft = TemplateDraft.of("Заказ #order# готов", Category.SERVICE, {"order": "1"}, "#shop#")

    assert placeholder_names(draft, RULES) == {"order", "shop"}
    assert render_message(draft, {"order": "7", "shop": "Лавка"}, RULES) == "Заказ 7 готов\nЛавка"


def test_a_doubled_delimiter_is_a_literal_one() -> None:
    text = "Заказ №#order# готов ##доставка"

    assert reasons(text, {"order": "7"}) == ()
    assert fill(text, {"order": "7"}, NAME) == "Заказ №7 готов #доставка"
    assert fill("#a##b#", {"b": "2"}, NAME) == "#a#2"
    assert reasons("Заказ #order## готов", {"order": "7"}) == (ModerationReason.INVALID_FORMAT,)


def test_an_invalid_pattern_names_its_rule() -> None:
    with pytest.raises(ValueError, match="rule BROKEN"):
        PromotionRule.of("BROKEN", "x", ["(oops"])
