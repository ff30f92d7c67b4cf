"""The packaged moderation rules (data/moderation_rules.yaml) on real template bodies.

Moderators extending the rules add a line here: a body that must now fail, and the nearest
honest body that must still pass.
"""

from __future__ import annotations

import re
import unicodedata
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
    moderate_message,
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
    "price": "310,50",
    "shop": "Пятёрочка",
    "item": "Подарочный набор чая",
    "d": "250",
    "c": "WINTER25",
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
    ("Скидка 10% применена, доставка будет 28 ноября.", Category.TRANSACTION),
    ("Скидка 10% применена, заказ будет доставлен завтра к 14:00.", Category.TRANSACTION),
    # a later clause of the same sentence that promises nothing
    ("Применена скидка #sum# ₽, заказ будет доставлен #date#.", Category.TRANSACTION),
    ("Discount applied: #sum# RUB.", Category.TRANSACTION),
    ("С вашей карты списано с учетом скидки #sum#", Category.TRANSACTION),
    ("Оплата заказа #order#: #sum# р., включая скидку по карте", Category.TRANSACTION),
    ("За заказ #order# начислено #n# бонусов", Category.TRANSACTION),
    ("Вам начислен кэшбэк #sum# р. за покупки в ноябре", Category.TRANSACTION),
    ("Куплено #n# акций #ticker# по цене #cost#", Category.TRANSACTION),
    ("Оплата подарочной картой: #sum# р.", Category.TRANSACTION),
    ("Your order #order# has shipped. Thank you for your purchase!", Category.ORDER_STATUS),
    ("#name#, с днём рождения!", Category.SERVICE),
    ("Курьер приедет #date# с #time#, пожалуйста, не упустите звонок", Category.SERVICE),
    # shares traded or paid out on, with no number or placeholder to lean on alone
    ("Дивиденды по акциям ПАО Сбербанк зачислены: #sum# ₽", Category.TRANSACTION),
    ("Куплено 10 акций #ticker# по #price# ₽", Category.TRANSACTION),
    ("Продажа #n# акций #ticker# исполнена", Category.TRANSACTION),
    ("Sale of 10 shares of #ticker# executed", Category.TRANSACTION),
    # «order» as the user's order, bonuses and cashback received or spent, a discount card
    # bound, gift sets and gifts as goods on their way
    ("Thank you for your order today. Total: #sum#", Category.TRANSACTION),
    ("Your order now ships from our Berlin warehouse, tracking #n#", Category.ORDER_STATUS),
    ("Кэшбэк #sum# ₽ поступил на вашу карту", Category.TRANSACTION),
    ("Оплата #sum# ₽ бонусами в #shop#", Category.TRANSACTION),
    ("Вы получили #n# бонусов за покупку", Category.TRANSACTION),
    ("Ваша скидочная карта #n# привязана", Category.SERVICE),
    ("Заказ #n#: подарочный набор отправлен", Category.ORDER_STATUS),
    ("Ваш подарок ждёт вас в пункте выдачи, заказ #n#", Category.ORDER_STATUS),
    ("Ваш заказ «#item#» отправлен", Category.ORDER_STATUS),  # the sample is a gift set
    # receipts in either word order: a discount applied (in the past) or its amount reported,
    # a bonus balance with its figure, a code applied to an order named, shares traded, a
    # gift that came with an order shipped (QA's report)
    ("Скидка по заказу #n# применена: #d# ₽.", Category.TRANSACTION),
    ("Сумма скидки: #d# ₽. Итого к оплате: #sum# ₽.", Category.TRANSACTION),
    ("Заказ #n# оплачен: #sum# ₽ (скидка #d# ₽).", Category.TRANSACTION),
    ("Discount of #d# applied to order #n#.", Category.TRANSACTION),
    ("Ваш бонусный баланс: #n# баллов.", Category.TRANSACTION),
    ("Баланс бонусов: #n#.", Category.TRANSACTION),
    ("Your bonus balance is #n# points.", Category.TRANSACTION),
    ("Акции #ticker# куплены: #n# шт. по #price# ₽.", Category.TRANSACTION),
    ("Подарок к заказу #n# отправлен.", Category.ORDER_STATUS),
    ("Promo code #code# applied to your order #n#.", Category.TRANSACTION),
    ("Купон #c# применён к заказу #n#.", Category.TRANSACTION),
    ("Применена скидка #d# ₽ по карте", Category.TRANSACTION),
    ("Discounts applied. Total: #sum#", Category.TRANSACTION),
    ("Бонусный баланс: #n#, из них #d# сгорят до 31 декабря", Category.TRANSACTION),
    ("Подарки по заказу №#n# доставлены", Category.ORDER_STATUS),  # № reads «No»
]

# our own promotional bodies, which must fail, with the rule expected to catch each
MUST_FAIL = [
    ("Применена скидка 20%, а в пятницу будет 30%.", "DISCOUNT"),
    ("Скидка 10% применена, с картой будет 30%.", "DISCOUNT"),
    ("Discount applied: 20% on everything", "DISCOUNT"),
    ("Скидка будет применена при заказе от 3000 ₽", "DISCOUNT"),
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
    # a number or a placeholder beside «акция» makes no shares of it, and «акций» is one too
    ("Большая акция #order#: всё по 99 ₽", "PROMOTION"),
    ("Только 3 акции недели: всё по 99 ₽", "PROMOTION"),
    ("Неделя акций: всё по 99 ₽", "PROMOTION"),
    # the nearest offers to the receipts that pass
    ("Скидка 50% на всё!", "DISCOUNT"),
    ("Shop now and save", "CALL_TO_BUY"),
    ("Order now and get #name# free", "CALL_TO_BUY"),
    ("Получите кэшбэк 10% за покупки", "CASHBACK"),
    ("Получите 500 бонусов за первый заказ", "BONUS"),
    ("Дарим подарок каждому", "GIFT"),
    ("Ваш подарок ждёт вас в нашем магазине", "GIFT"),
    ("Sale of the year: everything half price", "SALE"),
    # the nearest offers to the receipts of QA's report: applying in the present or the
    # imperative, an offer after the receipt's words, no order named, no balance's figure
    ("Скидка 20% применяется ко всем товарам", "DISCOUNT"),
    ("Скидка 20% на всё, примените промокод", "DISCOUNT"),
    ("Скидка 20% на всё применена автоматически", "DISCOUNT"),
    ("Скидка 20% применена ко всем товарам", "DISCOUNT"),
    ("Скидка будет применена при заказе от 3000 ₽", "DISCOUNT"),
    ("Скидка 20%, скидка применена", "DISCOUNT"),  # the first one offers
    ("Применена скидка 20% на всё", "DISCOUNT"),
    ("При применении скидки 20% к заказу #order# доставка бесплатно", "DISCOUNT"),
    ("Сумма скидки: 500 ₽ на любой заказ", "DISCOUNT"),
    ("Сумма скидки: 500 ₽, и так на любой заказ", "DISCOUNT"),
    ("Заказ оплачен, скидка 20% на следующий заказ", "DISCOUNT"),
    ("Заказ оплачен, скидка 20%, и так на всё!", "DISCOUNT"),
    ("Заказ оплачен, скидка на всё, скидка 100 ₽.", "DISCOUNT"),  # the first one offers
    ("Discount of 20% on everything", "DISCOUNT"),
    ("Get a discount of 20% applied at checkout", "DISCOUNT"),
    ("Get a discount applied at checkout", "DISCOUNT"),
    ("20% discount applied at checkout!", "DISCOUNT"),
    ("Discount of 20% applied to your next order", "DISCOUNT"),
    ("Discounts applied, on every order over 50", "DISCOUNT"),
    ("Бонусный баланс можно удвоить — получите 500 бонусов", "BONUS"),
    ("Бонусный баланс: 500 ₽ на всё", "BONUS"),
    ("Баланс бонусов: 500 — тратьте их на всё", "BONUS"),
    ("Your bonus balance is 500, double it on your next order", "BONUS"),
    ("Your bonus balance can be doubled: get 500 bonus points", "BONUS"),
    ("Акции недели: купи 2 по цене 1", "PROMOTION"),
    ("Акция недели продана? Нет, только 3 дня!", "PROMOTION"),
    ("Дарим подарок к каждому заказу", "GIFT"),
    ("Подарок к каждому заказу будет отправлен", "GIFT"),
    ("Подарок к заказу #order# будет отправлен при заказе от 3000 ₽", "GIFT"),
    ("Подарок к заказу #order# отправлен, такой же ждёт каждого покупателя", "GIFT"),
    ("Купон на 500 ₽ для вас! Примените его к заказу", "PROMO_CODE"),
    ("Promo code SAVE20: apply it to your next order", "PROMO_CODE"),
    ("Promo code #code# applied at checkout", "PROMO_CODE"),
    ("Промокод #code# применён к заказу #order# и ко всем следующим", "PROMO_CODE"),
    ("Promo code #code# applied to your order #order# and every next one", "PROMO_CODE"),
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
    # decomposed (NFD) letters, a stress mark, an accented look-alike, an unassigned
    # default-ignorable code point, full-width letters
    (unicodedata.normalize("NFD", "Чёрная пятница: всё по 99 ₽. Заказ #order# готов"), "SALE"),
    (unicodedata.normalize("NFD", "Успейте забрать заказ #order# по 99 ₽!"), "URGENCY"),
    ("Ваш заказ #order# готов. Ски\u0301дка 50% на всё!", "DISCOUNT"),
    ("Ваш заказ #order# готов. Ск\u045dдка 50% на всё!", "DISCOUNT"),  # ѝ
    ("Ваш заказ #order# готов. Ски\u2065дка 50% на всё!", "DISCOUNT"),
    ("Your order #order# is ready. \uff33\uff21\uff2c\uff25 today", "SALE"),  # ＳＡＬＥ
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


@pytest.mark.parametrize(
    ("text", "offer"),
    [
        ("Бонусный баланс можно удвоить — получите 500 бонусов", "бонусов"),
        ("Ваш бонусный баланс: #n# баллов, получите ещё 500 бонусов", "бонусов"),
        ("Скидка по заказу #n# применена. Скидка 20% на всё!", "Скидка"),
        ("Купон #c# применён к заказу #n#. Ещё купон на 500 ₽ для вас!", "купон"),
    ],
)
def test_an_offer_beside_a_receipt_is_found_where_it_is(
    rules: ModerationRules, text: str, offer: str
) -> None:
    result = moderate(draft(text, Category.TRANSACTION), rules)

    at = text.rindex(offer)  # the offer comes last; the receipt before it may be excused
    assert (at, at + len(offer)) in {(f.start, f.end) for f in result.findings}


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


@pytest.mark.parametrize(
    "order",
    ["«Подарочный набор чая» №123", "Чай в подарочной упаковке, 2 шт."],
)
def test_a_notifications_param_naming_goods_passes(rules: ModerationRules, order: str) -> None:
    template = draft("Ваш заказ #order# готов к выдаче", Category.ORDER_STATUS)

    assert moderate_message(template, {"order": order}, rules).findings == ()


@pytest.mark.parametrize(
    "order",
    [
        unicodedata.normalize("NFD", "123. Чёрная пятница: всё по 99 ₽"),
        "123. Ски\u0301дка 50% на всё",
        "123. Ски\u2065дка 50% на всё",
    ],
)
def test_a_notifications_param_hiding_promotion_in_marks_is_refused(
    rules: ModerationRules, order: str
) -> None:
    template = draft("Ваш заказ #order# готов к выдаче", Category.ORDER_STATUS)

    assert moderate_message(template, {"order": order}, rules).reasons == (
        ModerationReason.PROMOTIONAL,
    )


# receipts as banks and shops write them, each with a param that fills it in (breaking an
# exception's shape, as a decimal point or a long name does) and one that makes it an offer
RECEIPTS_FILLED = [
    ("Начислено #n# бонусов за заказ #order#.", "12.5", "0. Получите 500"),
    ("Начислено #n# бонусов за заказ #order#.", "150", "0 — получите 500"),
    ("Начислено #n# бонусов за заказ #order#.", "150", "0, а при заказе от 3000 ₽ ещё 500"),
    ("Начислено #n# бонусов за заказ #order#.", "150", "0; заходите завтра и получите 500"),
    ("Бонусы за покупку #item# начислены.", "Набор чая «Утренний» 1.5 кг, 3 шт.", "чая — на всё"),
    ("Кэшбэк за покупку в #shop# начислен.", "ООО «Ромашка и Ко.»", "Ромашка, 10% на всё"),
    ("Кэшбэк за покупку в #shop# начислен.", "Get Fit Gym", "Get 10% back"),
    ("Кэшбэк #sum# начислен.", "150 ₽", "10% на всё, он будет"),
    ("Акции #ticker# куплены.", "Сбербанк ап", "недели: подпишитесь, и"),
    ("Купон #code# применён к заказу #order#.", "ЛЕТО 2026", "ЛЕТО для всех покупателей, и"),
    ("Подарок к заказу #order# отправлен.", "A-1234", "123 и к каждому следующему"),
    ("Сумма скидки: #sum#.", "500 RUB", "500 ₽ на любой заказ"),
    ("Скидка #sum# применена.", "по заказу 12345 на сумму 1.500 ₽", "20% для всех покупателей"),
    ("Promo code #code# applied to your order #order#.", "ABCDEFGHIJKLMNOPQRSTUV", "X; get 20%"),
    # a param that starts a sentence of its own, or offers in words no guard lists
    ("Начислено #n# бонусов за заказ #order#.", "1 250", "0. Вас ждут 500"),
    ("Начислено #n# бонусов за заказ #order#.", "1 250", "0. Приведите друга — ещё 500"),
    ("Начислено #n# бонусов за заказ #order#.", "1 250", "0. Скачайте приложение и 500"),
    ("Начислено #n# бонусов за заказ #order#.", "1 250", "0. Новым клиентам дадим 1000"),
    ("Применена скидка #sum#.", "100 ₽", "20% ко всем товарам в корзине"),
    ("Применена скидка #sum#.", "100 ₽", "100 ₽ на все товары в корзине"),
    ("Применена скидка #sum#.", "100 ₽", "20%, она будет действовать до конца месяца"),
    ("Кэшбэк #sum# ₽ зачислен на карту.", "150", "0. Вас ждут 30% с картой Мир"),
    ("Подарок к заказу #order# отправлен.", "A-1234", "123. Пригласи друга — ещё один"),
    ("Discount of #sum# applied to order #order#.", "$4.99", "20% on all items"),
]

# what banks and shops put in params: names of shops, goods and addresses that hold the words
# of offers, and text in another sentence than the receipt's
HONEST_PARAMS = [
    ("Начислено #n# бонусов за покупку в магазине «#shop#».", "shop", "Каждый день"),
    ("Начислено #n# бонусов за покупку в магазине «#shop#».", "shop", "Всё для вас"),
    ("Начислено #n# бонусов за покупку в магазине «#shop#».", "shop", "Аптека для всех"),
    ("Начислено #n# бонусов за покупку в магазине «#shop#».", "shop", "Любой каприз"),
    ("Начислено #n# бонусов за покупку в магазине «#shop#».", "shop", "Следующая станция"),
    ("Начислено #n# бонусов за покупку в магазине «#shop#».", "shop", "ул. Ленина, д. 5"),
    ("Начислено #n# бонусов за покупку в магазине «#shop#».", "shop", "Ромашка и Ко."),
    ("Бонусы за покупку #item# начислены.", "item", "Молоко «Каждый день» 2,5% 1 л"),
    ("Заказ #order# оплачен (скидка #n# ₽). Доставка: #date#.", "date", "на следующий день"),
    ("Кэшбэк за покупку в #shop# начислен.", "shop", "Get A Grip Climbing"),
    ("Кэшбэк за покупку в #shop# начислен.", "shop", "Get 2 Go Foods"),
    ("Кэшбэк за покупку в #shop# начислен.", "shop", "Subscribe & Save Coffee Pods"),
    ("Кэшбэк за покупку в #shop# начислен.", "shop", "Join Now Fitness"),
    ("Кэшбэк за покупку в #shop# начислен.", "shop", "Get More Fitness"),
    ("Кэшбэк за покупку в #shop# начислен.", "shop", "Walmart Corp. Store #12"),
    ("Кэшбэк за покупку в #shop# начислен.", "shop", "YANDEX.TAXI. MOSCOW"),
    ("Кэшбэк за покупку в #shop# начислен.", "shop", "ИП Иванов; ТЦ Мега"),
    ("Кэшбэк за покупку в #shop# начислен.", "shop", "г. Москва, ул. Ленина, д. 5, корп. 2"),
    ("Кэшбэк за покупку в #shop# начислен.", "shop", "респ. Татарстан, г. Казань, просп. Мира, 10"),
    ("Бонусы за покупку #item# начислены.", "item", "Клубника в корзинке 500 г"),
    ("Бонусы за покупку #item# начислены.", "item", "Набор «Ещё 5 минуточек»"),
    ("Бонусы за покупку #item# начислены.", "item", "Сок, до 30% сока"),
    ("Заказ #order# оплачен (скидка #n# ₽). #date#", "date", "Получите заказ до 15.05."),
    ("Заказ #order# оплачен (скидка #n# ₽). #date#", "date", "Вас ждут 2 заказа в ПВЗ"),
    ("Заказ #order# оплачен (скидка #n# ₽). #date#", "date", "Получите 2 посылки в ПВЗ"),
    ("Бонусы за покупку #item# начислены.", "item", "Чехол универсальный на все модели"),
    ("Бонусы за покупку #item# начислены.", "item", "Набор «На все случаи жизни»"),
    ("Бонусы за покупку #item# начислены.", "item", "Установка приложений (услуга)"),
    ("Бонусы за покупку #item# начислены.", "item", "Get Up to Speed with Python"),
    ("Заказ #order# оплачен (скидка #n# ₽). #date#", "date", "You will receive an email."),
]


def test_an_offer_in_a_param_of_another_sentence_than_the_receipt_is_refused(
    rules: ModerationRules,
) -> None:
    template = TemplateDraft.of(
        "Начислено #n# бонусов за заказ #order#. #item#",
        Category.TRANSACTION,
        {"n": "150", "order": "1", "item": "Спасибо!"},
    )
    params = {"n": "150", "order": "1", "item": "Получите ещё 500 за отзыв!"}

    assert moderate(template, rules).findings == ()
    assert moderate_message(template, params, rules).reasons == (ModerationReason.PROMOTIONAL,)


@pytest.mark.parametrize(("text", "name", "value"), HONEST_PARAMS)
def test_a_receipts_params_as_banks_and_shops_fill_them_in_pass(
    rules: ModerationRules, text: str, name: str, value: str
) -> None:
    template = draft(text, Category.TRANSACTION)
    params = {found: SAMPLES[found] for found in re.findall(r"#(\w+)#", text)}

    assert moderate(template, rules).findings == ()
    assert moderate_message(template, params | {name: value}, rules).findings == ()


@pytest.mark.parametrize(("text", "honest", "offer"), RECEIPTS_FILLED)
def test_a_param_may_fill_a_receipt_in_but_not_make_it_an_offer(
    rules: ModerationRules, text: str, honest: str, offer: str
) -> None:
    """The template's own words pass as a receipt; a param fills them in, however it breaks
    an exception's shape, and is refused once it offers."""
    template = draft(text, Category.TRANSACTION)
    params = {found: SAMPLES[found] for found in re.findall(r"#(\w+)#", text)}
    name = re.findall(r"#(\w+)#", text)[0]

    assert moderate(template, rules).findings == ()
    assert moderate_message(template, params | {name: honest}, rules).findings == ()
    assert moderate_message(template, params | {name: offer}, rules).reasons == (
        ModerationReason.PROMOTIONAL,
    )


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
