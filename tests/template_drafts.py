"""Template drafts and wire bodies shared by the store, CLI and API tests of templates."""

from __future__ import annotations

from typing import Any

from ownership.moderation import Category, TemplateDraft

ORDER_READY = TemplateDraft.of(
    "Ваш заказ #order# готов к выдаче", Category.ORDER_STATUS, {"order": "123-456"}
)
BIRTHDAY_OFFER = TemplateDraft.of(
    "#name#, в день рождения дарим скидку 15%!", Category.SERVICE, {"name": "Анна"}
)
ORDER_READY_BODY: dict[str, Any] = {
    "text": "Ваш заказ #order# готов к выдаче",
    "category": "order_status",
    "samples": {"order": ["123-456", "1234567890-AB"]},
    "tail": "Скидка 10% на следующий заказ по промокоду OSEN",
}
BIRTHDAY_OFFER_BODY: dict[str, Any] = {
    "text": "#name#, в день рождения дарим скидку 15%!",
    "category": "service",
    "samples": {"name": "Анна"},
}
