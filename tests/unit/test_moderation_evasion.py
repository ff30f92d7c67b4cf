"""`ownership.moderation` against the ways round it: promotion split by a placeholder, hidden
by invisible characters or look-alike letters, samples cheap in characters but costly in SMS
parts, and a notification's params that carry what the template could not."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

import pytest

from ownership.message_text import IGNORABLE, Lookalikes, visible_text
from ownership.moderation import (
    Category,
    LengthLimits,
    ModerationReason,
    ModerationRules,
    Part,
    PromotionRule,
    TemplateDraft,
    moderate,
    moderate_message,
)

RULES = ModerationRules(
    version="test",
    placeholder_name=re.compile(r"[a-z][a-z0-9_]{0,31}"),
    limits=LengthLimits(sms_max_parts=2, social_max_chars=4096),
    promotions=(
        PromotionRule.of(
            "DISCOUNT", "a discount", [r"\bскидк\w*", r"\bdiscount\b"], [r"с учетом скидки"]
        ),
        PromotionRule.of("BONUS", "a bonus", [r"\bbonus\b"]),
    ),
    lookalikes=Lookalikes(latin="aceopxyCKOB", cyrillic="асеорхуСКОВ"),
)
ZERO_WIDTH_SPACE, SOFT_HYPHEN, WORD_JOINER = "\u200b", "\u00ad", "\u2060"
STRESS_MARK, ENCLOSING_CIRCLE = "\u0301", "\u20dd"
# Default_Ignorable_Code_Point (Unicode 15.1, DerivedCoreProperties.txt), assigned or not
DEFAULT_IGNORABLE = [
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
]
# among them, code points no character is assigned to yet
UNASSIGNED_IGNORABLE = ["\u2065", "\ufff0", "\ufff8", "\U000e0000", "\U000e0080", "\U000e0fff"]
LATIN_C, LATIN_A, CYRILLIC_O = "C", "a", "\u043e"


def moderated(text: str, samples: dict[str, str | list[str]] | None = None) -> TemplateDraft:
    return TemplateDraft.of(text, Category.ORDER_STATUS, samples)


def reasons(text: str, samples: dict[str, str | list[str]] | None = None) -> tuple[str, ...]:
    return moderate(moderated(text, samples), RULES).reasons


def test_a_word_split_by_a_placeholder_is_promotional_once_its_samples_fill_it() -> None:
    result = moderate(moderated("Заказ #o# готов. Ск#x#дка на всё!", {"o": "1", "x": "и"}), RULES)

    (finding,) = result.findings
    assert (finding.reason, finding.rule, finding.part) == (
        ModerationReason.PROMOTIONAL,
        "DISCOUNT",
        Part.BODY,
    )
    assert finding.matched == "Ск#x#дка"  # where it is in the body, as written
    assert "«Скидка»" in finding.explanation  # and what it reads once filled


def test_every_sample_set_fills_the_body_not_only_the_first() -> None:
    assert reasons("Заказ готов. Ск#x#дка на всё!", {"x": ["а", "и"]}) == (
        ModerationReason.PROMOTIONAL,
    )


def test_a_receipt_filled_with_its_samples_still_passes() -> None:
    assert reasons("Списано с учетом скидки #sum#", {"sum": "10"}) == ()
    assert reasons("Списано с учетом #what#", {"what": "скидки 10"}) == (
        ModerationReason.PROMOTIONAL,  # the sample alone offers a discount
    )


def test_a_promotional_sample_is_reported_once_as_a_sample_not_again_filled_in() -> None:
    result = moderate(moderated("Заказ #item# готов", {"item": "скидка"}), RULES)

    assert [finding.part for finding in result.findings] == [Part.SAMPLES]


@pytest.mark.parametrize("invisible", [ZERO_WIDTH_SPACE, SOFT_HYPHEN, WORD_JOINER])
def test_an_invisible_format_character_does_not_hide_a_promotional_word(invisible: str) -> None:
    text = f"Заказ готов. Ски{invisible}дка на всё!"

    (finding,) = moderate(moderated(text), RULES).findings

    assert finding.rule == "DISCOUNT"
    assert finding.matched == f"Ски{invisible}дка"  # the text as written, offsets into it
    assert text[finding.start : finding.end] == finding.matched


@pytest.mark.parametrize("ignorable", UNASSIGNED_IGNORABLE)
def test_an_unassigned_default_ignorable_code_point_does_not_hide_a_promotional_word(
    ignorable: str,
) -> None:
    text = f"Заказ готов. Ски{ignorable}дка на всё!"

    (finding,) = moderate(moderated(text), RULES).findings

    assert (finding.rule, finding.matched) == ("DISCOUNT", f"Ски{ignorable}дка")


@pytest.mark.parametrize(("first", "last"), DEFAULT_IGNORABLE)
def test_every_default_ignorable_code_point_is_ignorable(first: int, last: int) -> None:
    assert {chr(code) for code in range(first, last + 1)} <= IGNORABLE


@pytest.mark.parametrize(
    "spelt",
    [
        f"Заказ готов. Ски{STRESS_MARK}дка на всё!",
        "Заказ готов. Ск\u045dдка на всё!",  # ѝ, one character: и with a grave accent
        f"Заказ готов. С{ENCLOSING_CIRCLE}кидка на всё!",
        "Заказ готов. \uff44\uff49\uff53\uff43\uff4f\uff55\uff4e\uff54 inside",  # full width
    ],
)
def test_combining_marks_accents_and_compatibility_forms_do_not_hide_a_promotional_word(
    spelt: str,
) -> None:
    (finding,) = moderate(moderated(spelt), RULES).findings

    assert finding.rule == "DISCOUNT"
    assert spelt[finding.start : finding.end] == finding.matched  # the text as written


def test_a_match_in_decomposed_text_covers_the_marks_of_its_letters() -> None:
    text = unicodedata.normalize("NFD", "Заказ готов. Успей на распродажу!")
    rules = replace(RULES, promotions=(PromotionRule.of("URGENCY", "x", [r"\bуспей\b"]),))

    (finding,) = moderate(moderated(text), rules).findings

    assert finding.matched == "Успеи\u0306"  # the breve of й included


def test_the_marks_of_short_i_and_yo_are_kept_whether_composed_or_not() -> None:
    for text in ("Успейте, ёлка", unicodedata.normalize("NFD", "Успейте, ёлка")):
        assert visible_text(text)[0] == "Успейте, ёлка"


def test_latin_look_alikes_do_not_hide_a_cyrillic_promotional_word() -> None:
    text = f"Заказ готов. {LATIN_C}кидк{LATIN_A} на всё!"

    (finding,) = moderate(moderated(text), RULES).findings

    assert (finding.rule, finding.matched) == ("DISCOUNT", f"{LATIN_C}кидк{LATIN_A}")


def test_cyrillic_look_alikes_do_not_hide_a_latin_promotional_word() -> None:
    assert reasons(f"Your order is ready. Get a b{CYRILLIC_O}nus") == (
        ModerationReason.PROMOTIONAL,
    )


def test_honest_text_in_either_script_passes_with_look_alikes_folded() -> None:
    assert reasons("Your order #o# is ready for pickup", {"o": "A-17"}) == ()
    assert reasons("Ваш заказ #o# готов к выдаче", {"o": "CK-OB"}) == ()


def test_look_alike_letters_come_in_pairs_that_do_not_repeat() -> None:
    with pytest.raises(ValueError, match="pairs"):
        Lookalikes(latin="ac", cyrillic="а")
    with pytest.raises(ValueError, match="repeats"):
        Lookalikes(latin="aa", cyrillic="ае")


def test_the_sample_costliest_in_sms_parts_is_measured_not_the_longest() -> None:
    body = "Your order #o# is ready. " + "x" * 260  # 282 septets and the sample's
    assert reasons(body, {"o": ["ABCDEFGH"]}) == ()  # 290 septets: 2 GSM parts
    # one Cyrillic letter makes the whole message UCS-2: 283 units, 5 parts
    assert reasons(body, {"o": ["ABCDEFGH", "я"]}) == (ModerationReason.TOO_LONG,)


def test_a_gsm_extension_character_counts_twice_in_the_costliest_sample() -> None:
    body = "Your order #o# is ready. " + "x" * 278  # 300 septets; 2 GSM parts take 306
    assert reasons(body, {"o": ["abcd", "{}"]}) == ()  # 300 + 4 septets
    assert reasons(body, {"o": ["abcde", "{}[]"]}) == (ModerationReason.TOO_LONG,)  # 300 + 8


def test_each_placeholder_is_tried_with_its_costliest_cyrillic_sample() -> None:
    # Latin samples are the longest, yet one Cyrillic sample makes the message UCS-2
    body = "Order #a# #b# ready " + "x" * 100
    assert reasons(body, {"a": ["A" * 20, "я"], "b": ["B" * 20]}) == (ModerationReason.TOO_LONG,)


ORDER_READY = moderated("Ваш заказ #o# готов к выдаче", {"o": "A-17"})
WITH_TAIL = TemplateDraft.of(
    "Ваш заказ #o# готов", Category.ORDER_STATUS, {"o": "1", "t": "1"}, "Магазин #t#"
)


def test_params_that_make_the_message_too_long_are_refused() -> None:
    (finding,) = moderate_message(ORDER_READY, {"o": "Z" * 200}, RULES).findings

    assert finding.reason is ModerationReason.TOO_LONG
    assert "SMS parts, at most 2" in finding.explanation


def test_params_that_make_the_body_promotional_are_refused_but_the_tail_may_advertise() -> None:
    (finding,) = moderate_message(ORDER_READY, {"o": "Скидка на всё"}, RULES).findings
    assert (finding.reason, finding.rule, finding.matched) == (
        ModerationReason.PROMOTIONAL,
        "DISCOUNT",
        "#o#",
    )
    assert moderate_message(WITH_TAIL, {"o": "7", "t": "Скидка на всё"}, RULES).findings == ()


def test_params_are_read_past_invisible_characters_and_look_alikes() -> None:
    for evasive in (f"Ски{SOFT_HYPHEN}дка", f"{LATIN_C}кидк{LATIN_A}"):
        assert moderate_message(ORDER_READY, {"o": evasive}, RULES).reasons == (
            ModerationReason.PROMOTIONAL,
        )


def test_honest_params_and_a_receipt_pass() -> None:
    assert moderate_message(ORDER_READY, {"o": "A-17"}, RULES).findings == ()
    receipt = moderated("Списано с учетом #what#", {"what": "1"})
    assert moderate_message(receipt, {"what": "скидки 10 р."}, RULES).findings == ()


def test_an_approved_templates_own_words_are_not_judged_again_when_the_rules_change() -> None:
    stricter = replace(RULES, promotions=(PromotionRule.of("READY", "x", [r"\bготов\b"]),))

    assert moderate_message(ORDER_READY, {"o": "A-17"}, stricter).findings == ()


CREDITED_ONLY = replace(
    RULES,
    promotions=(
        PromotionRule.of(
            "BONUS", "a bonus", [r"\bbonus\b"], [r"\bcredited\b[^.!?\n]{0,40}?\bbonus\b"]
        ),
    ),
    offer_words=ModerationRules.compile_offer_words([r"\bjoin\b", r"\bget\s+\d"]),
)
CREDITED = moderated("Credited #n# bonus points for order #o#", {"n": "150", "o": "A-17"})


@pytest.mark.parametrize(
    "offer",
    [
        "nothing yet. Join today and 500 more",  # the exception broken by the full stop
        "nothing - get 500",  # the exception still holding the filled text
        f"nothing - j{CYRILLIC_O}in us",  # a look-alike letter
    ],
)
def test_a_param_that_makes_the_templates_receipt_an_offer_is_refused(offer: str) -> None:
    assert moderate(CREDITED, CREDITED_ONLY).findings == ()

    (finding,) = moderate_message(CREDITED, {"n": offer, "o": "A-17"}, CREDITED_ONLY).findings

    assert (finding.reason, finding.rule, finding.matched) == (
        ModerationReason.PROMOTIONAL,
        "BONUS",
        "bonus",
    )


def test_a_param_that_only_breaks_an_exceptions_shape_fills_the_receipt_in() -> None:
    for honest in ("150", "12.5", "a hundred and fifty, for your purchase of a kettle,"):
        assert moderate_message(CREDITED, {"n": honest, "o": "A-17"}, CREDITED_ONLY).findings == ()


def test_a_sample_that_makes_the_templates_receipt_an_offer_is_refused() -> None:
    offer = moderated("Credited #n# bonus points", {"n": ["150", "0. Join and get 500"]})

    assert moderate(offer, CREDITED_ONLY).reasons == (ModerationReason.PROMOTIONAL,)


def test_the_tails_params_may_offer_beside_a_receipt_in_the_body() -> None:
    receipt = TemplateDraft.of(
        "Credited #n# bonus points", Category.TRANSACTION, {"n": "150", "t": "x"}, "Shop #t#"
    )

    assert moderate_message(receipt, {"n": "150", "t": "join now"}, CREDITED_ONLY).findings == ()


def test_params_are_read_past_combining_marks_and_unassigned_ignorables() -> None:
    for evasive in (f"Ски{STRESS_MARK}дка", "Ски\u2065дка", unicodedata.normalize("NFD", "Скидка")):
        assert moderate_message(ORDER_READY, {"o": evasive}, RULES).reasons == (
            ModerationReason.PROMOTIONAL,
        )


def test_an_overlong_template_is_refused_for_its_length_alone() -> None:
    # scanning the samples and the body filled with each set of them for promotion is what
    # costs: a submission at the schema's bounds held a worker for minutes
    samples = {f"p{i}": "начислен bonus " * 600 for i in range(20)}
    text = "Скидка на всё! " + " ".join(f"#{name}#" for name in samples)

    assert reasons(text, dict(samples)) == (ModerationReason.TOO_LONG,)


def test_thousands_of_matches_are_each_excused_by_their_own_exception() -> None:
    """The cost, once quadratic (every match against every exception), is measured by
    bench/bench_moderation.py."""
    rule = PromotionRule.of(
        "BONUS", "a bonus", [r"\bbonus\b"], [r"\bcredited\b[^.!?\n]{0,40}?\bbonus\b"]
    )
    text = "credited bonus " * 14_000 + "bonus"  # 14,000 excused matches, and one not

    assert [match.start() for match in rule.matches(text)] == [len(text) - len("bonus")]


def test_a_match_is_excused_only_inside_one_exception_not_across_two() -> None:
    rule = PromotionRule.of("GIFT", "x", [r"gift set"], [r"a gift", r"set b", r"xx gift set xx"])

    assert [m.group() for m in rule.matches("a gift set b")] == ["gift set"]
    assert list(rule.matches("xx gift set xx, a gift")) == []
