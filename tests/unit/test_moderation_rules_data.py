"""The packaged moderation rules (data/moderation_rules.yaml) on real template bodies.

Moderators extending the rules add a line here: a body that must now fail, and the nearest
honest body that must still pass.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ownership.moderation import (
    Category,
    ModerationReason,
    ModerationRules,
    Outcome,
    TemplateDraft,
    moderate,
)
from pipelines.moderation_rules import (
    MODERATION_RULES,
    ModerationRulesError,
    _Document,
    load_moderation_rules,
)
from pipelines.paths import SCHEMAS_DIR

SAMPLES = {
    "order": "123-456-789",
    "name": "Анна Петровна",
    "cost": "1 500,00 ₽",
    "code": "482913",
    "sum": "2 399,00",
    "time": "14:30",
    "date": "28.11.2026",
    "ticker": "SBER",
    "n": "120",
}

# issue 4: these bodies must pass
MUST_PASS = [
    ("Ваш заказ #order# готов к выдаче", Category.ORDER_STATUS),
    ("#name#, ваш заказ доставлен! Спасибо за покупку!", Category.ORDER_STATUS),
    ("На Ваш счет зачислена сумма #cost#", Category.TRANSACTION),
    ("#code# – ваш код подтверждения", Category.OTP),
    ("С вашего счета списано: #sum# р.", Category.TRANSACTION),
    ("Вам назначен предварительный заказ #time# #date#", Category.SERVICE),
]

# reports of the user's own transaction that mention a discount, a bonus or shares: they pass
# (the rules' exceptions), since a purchase the user made is behind them
MUST_PASS_TOO = [
    ("С вашей карты списано с учетом скидки #sum#", Category.TRANSACTION),
    ("Оплата заказа #order#: #sum# р., включая скидку по карте", Category.TRANSACTION),
    ("За заказ #order# начислено #n# бонусов", Category.TRANSACTION),
    ("Вам начислен кэшбэк #sum# р. за покупки в ноябре", Category.TRANSACTION),
    ("Куплено #n# акций #ticker# по цене #cost#", Category.TRANSACTION),
    ("Оплата подарочной картой: #sum# р.", Category.TRANSACTION),
    ("Your order #order# has shipped. Thank you for your purchase!", Category.ORDER_STATUS),
    ("#name#, с днём рождения!", Category.SERVICE),
    ("Курьер приедет #date# с #time#, пожалуйста, не упустите звонок", Category.SERVICE),
]

# our own promotional bodies, which must fail, with the rule expected to catch each
MUST_FAIL = [
    ("#name#, в день рождения дарим скидку 15% на всё!", "BIRTHDAY_OFFER"),
    ("#name#, happy birthday! Enjoy 20% off with code BDAY", "BIRTHDAY_OFFER"),
    ("Ваш заказ #order# доставлен. Купите ещё со скидкой!", "CALL_TO_BUY"),
    ("Your order #order# is ready. Buy now and save on your next one!", "CALL_TO_BUY"),
    ("Только сегодня: распродажа зимней коллекции, заказ #order#", "URGENCY"),
    ("Большая распродажа в магазине #name#", "SALE"),
    ("#name#, дарим 500 бонусов на первую покупку", "BONUS"),
    ("Кэшбэк 10% на все покупки в декабре, #name#", "CASHBACK"),
    ("Ваш промокод на следующий заказ: #code#", "PROMO_CODE"),
    ("Успейте оформить заказ #order# до конца недели", "URGENCY"),
    ("Limited offer: free delivery for #name# this week", "URGENCY"),
    ("Акция! Второй товар к заказу #order# в подарок", "PROMOTION"),
    ("Special offer for #name#: a discount on every order", "DISCOUNT"),
    ("Скидка 30% на ваш следующий заказ, #name#", "DISCOUNT"),
]

# promotion hidden from the rules as written, which the packaged look-alikes and the
# skipping of invisible characters undo
EVASIVE = [
    ("Ваш заказ #order# готов. Ски\u200bдка 20% на всё!", "DISCOUNT"),  # zero-width space
    ("Ваш заказ #order# готов. Ски\u00adдка 20% на всё!", "DISCOUNT"),  # soft hyphen
    ("Ваш заказ #order# готов. Cкидкa 20% на всё!", "DISCOUNT"),  # Latin C and a
    ("Ваш заказ #order# готов. П" + "POMOKO" + "Д внутри", "PROMO_CODE"),  # Latin in the middle
    ("Your order #order# is ready: b\u043enus inside", "BONUS"),  # Cyrillic о
    ("Ваш заказ #order# готов. Ски\u034fдка 20% на всё!", "DISCOUNT"),  # grapheme joiner
    ("Ваш заказ #order# готов. Ски\ufe0fдка 20% на всё!", "DISCOUNT"),  # variation selector
    ("Ваш заказ #order# готов. Скиㅤдка 20% на всё!", "DISCOUNT"),  # Hangul filler
    # every letter Cyrillic, and every one a look-alike: «саѕһьаск»
    ("Your order #order# is ready: \u0441\u0430\u0455\u04bb\u044c\u0430\u0441\u043a", "CASHBACK"),
]


@pytest.fixture(scope="module")
def rules() -> ModerationRules:
    return load_moderation_rules()


def draft(text: str, category: Category = Category.SERVICE, tail: str = "") -> TemplateDraft:
    used = set(re.findall(r"#(\w+)#", text + tail))
    return TemplateDraft.of(text, category, {name: SAMPLES[name] for name in used}, tail)


@pytest.mark.parametrize(("text", "category"), MUST_PASS + MUST_PASS_TOO)
def test_an_honest_body_passes(rules: ModerationRules, text: str, category: Category) -> None:
    result = moderate(draft(text, category), rules)

    assert result.outcome == Outcome.PASSED, result.findings


@pytest.mark.parametrize(("text", "rule"), MUST_FAIL)
def test_a_promotional_body_is_rejected_by_its_rule(
    rules: ModerationRules, text: str, rule: str
) -> None:
    result = moderate(draft(text), rules)

    assert result.reasons == (ModerationReason.PROMOTIONAL,)
    assert rule in {finding.rule for finding in result.findings}
    assert all(text[f.start : f.end] == f.matched for f in result.findings if f.start is not None)


@pytest.mark.parametrize(("text", "rule"), EVASIVE)
def test_promotion_hidden_by_invisible_characters_or_look_alikes_is_found(
    rules: ModerationRules, text: str, rule: str
) -> None:
    result = moderate(draft(text, Category.ORDER_STATUS), rules)

    assert [finding.rule for finding in result.findings] == [rule]


@pytest.mark.parametrize(("advert", "_rule"), MUST_FAIL)
def test_the_same_promotion_in_the_tail_passes(
    rules: ModerationRules, advert: str, _rule: str
) -> None:
    body = "Ваш заказ #order# готов к выдаче"

    assert moderate(draft(body, Category.ORDER_STATUS, tail=advert), rules).findings == ()


def test_an_otp_template_carries_a_code_and_no_advert(rules: ModerationRules) -> None:
    result = moderate(draft("Ваш заказ #order# подтверждён", Category.OTP, tail="Ещё!"), rules)

    assert result.reasons == (
        ModerationReason.MISSING_REQUIRED_PLACEHOLDER,
        ModerationReason.TAIL_NOT_ALLOWED,
    )


def test_a_cyrillic_message_fits_six_sms_parts_and_no_more(rules: ModerationRules) -> None:
    opening = "Ваш заказ #order# готов к выдаче. "
    filled = len(opening) - len("#order#") + len(SAMPLES["order"])
    fits = opening + "я" * (6 * 67 - filled)  # six UCS-2 parts of 67

    assert moderate(draft(fits), rules).findings == ()
    assert moderate(draft(fits + "я"), rules).reasons == (ModerationReason.TOO_LONG,)


def test_the_contract_documents_every_field_the_loader_reads() -> None:
    contract = yaml.safe_load((SCHEMAS_DIR / "moderation_rules.yaml").read_text("utf-8"))
    documented = {path.split(".")[0].split("[")[0] for path in contract["fields"]}

    assert documented == set(_Document.model_fields)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda doc: doc["promotions"][0]["patterns"].append("(unclosed"), "not valid"),
        (lambda doc: doc["promotions"].append(doc["promotions"][0]), "repeat"),
        (lambda doc: doc["categories"].update(newsletter={}), "newsletter"),
        (lambda doc: doc["length"].update(sms_max_parts=0), "sms_max_parts"),
        (lambda doc: doc.update(spam_score=3), "spam_score"),
        (
            lambda doc: doc["lookalikes"].update(cyrillic="a" + doc["lookalikes"]["cyrillic"][1:]),
            "LATIN SMALL LETTER A",
        ),
        (lambda doc: doc["lookalikes"].update(latin="ab"), "pairs"),
    ],
)
def test_a_broken_rules_file_is_refused_naming_the_fault(
    tmp_path: Path, change: object, complaint: str
) -> None:
    document = yaml.safe_load(MODERATION_RULES.read_text("utf-8"))
    change(document)  # type: ignore[operator]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")

    with pytest.raises(ModerationRulesError, match=complaint):
        load_moderation_rules(path)
