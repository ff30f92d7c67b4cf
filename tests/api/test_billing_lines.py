"""`GET /v1/billing` over HTTP, on SQLite and PostgreSQL: one line per channel, country and unit
price, each with its price; a price changed within the month makes two lines."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from delivery.clock import VirtualClock
from ownership.channels import Channel
from ownership.prices import Price, PriceTable
from tests.api.conftest import served_history
from tests.api.service import NOW, RECYCLED, VERIFIED_FRESH
from tests.api.test_notify_routes import body
from tests.conftest import DATABASES, fresh_database

MONTH = NOW.strftime("%Y-%m")
RU_SMS_OLD = Decimal("4.5555")  # a tenth of it, VK's price, is 0.4556 rounded
RU_SMS_NEW = Decimal("5.00")
RAISED_ON = (NOW + timedelta(days=1)).date()  # within the month of NOW


def line(channel: str, price: str, delivered: int, amount: str) -> dict[str, Any]:
    fields = {"channel": channel, "country": "7", "currency": "RUB", "price": price}
    return fields | {"delivered": delivered, "amount": amount}


@pytest.mark.parametrize("kind", DATABASES)
def test_a_months_bill_has_a_line_for_each_unit_price_with_the_price(
    kind: str, tmp_path: Path
) -> None:
    with fresh_database(kind, tmp_path) as url:
        for served in served_history(tmp_path, database_url=url):
            caller, service = served.caller, served.notify
            service.prices = PriceTable.of(
                [
                    Price("7", Channel.SMS, RU_SMS_OLD, date(2024, 1, 1)),
                    Price("7", Channel.SMS, RU_SMS_NEW, RAISED_ON),
                ]
            )
            for request_id, phone in (("before", RECYCLED), ("in-vk", VERIFIED_FRESH)):
                sent = caller.post("/v1/notify", body(request_id, phone=phone)).json()["id"]
                service.dispatch_due()
                reported = service.sms_delivered if phone == RECYCLED else service.delivered
                assert reported(sent, service.clock.now())
            assert isinstance(service.clock, VirtualClock)
            service.clock.advance(timedelta(days=1))  # the new price's day
            sent = caller.post("/v1/notify", body("after", phone=RECYCLED)).json()["id"]
            service.dispatch_due()
            assert service.sms_delivered(sent, service.clock.now())

            billed = caller.get_signed(f"/v1/billing?month={MONTH}").json()

    assert billed == {
        "month": MONTH,
        "lines": [
            line("sms", "4.5555", 1, "4.5555"),
            line("sms", "5.0000", 1, "5.0000"),
            line("vk", "0.4556", 1, "0.4556"),
        ],
        "delivered": 3,
        "total": "10.0111",
    }
