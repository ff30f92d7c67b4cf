"""The delivery analytics (pipelines.analytics over the notification store) on a hand-made
store of eleven notifications, each taking a path of DESIGN §7, with the times it took them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Connection, insert

from delivery import records
from ownership.channels import Channel
from ownership.countries import Country, CountryTable
from ownership.prices import Price, PriceTable
from pipelines import analytics
from pipelines.analytics import AnalyticsInputError
from store.clients import register_client
from store.database import make_engine, session_factory, upgrade
from store.secrets import SecretCipher

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 9, tzinfo=UTC)
COUNTRIES = CountryTable(
    [
        Country("RU", "Russia", "7", 59, None),
        Country("KZ", "Kazakhstan", "77", 4.8, 2.5),
        Country("BY", "Belarus", "375", 3.2, 2.7),
    ]
)
PRICES = PriceTable.of(
    [
        Price("7", Channel.SMS, Decimal("4.50"), date(2025, 1, 1)),
        Price("77", Channel.SMS, Decimal("5.00"), date(2025, 1, 1)),
        Price("375", Channel.SMS, Decimal("7.00"), date(2025, 1, 1)),
    ]
)
SOCIAL_RU = Decimal("0.45")  # a tenth of the SMS price
SMS_RU, SMS_KZ, SMS_BY = Decimal("4.50"), Decimal("5.00"), Decimal("7.00")


@dataclass(frozen=True)
class Sent:
    """A notification and the statuses it took, each `seconds` after acceptance."""

    name: str
    phone: str
    decision: str
    policy_case: str
    ttl: timedelta
    # (status, seconds) or (status, seconds, the event's detail)
    path: tuple[tuple[Any, ...], ...]
    billed: tuple[str, Decimal] | None = None
    fallback: str = "sms"
    country: str = field(default="7")


H = 3_600.0
NOTIFICATIONS = (
    # delivered in VK within the minute, read within ten minutes
    Sent(
        "fresh",
        "+79230000001",
        "deliver",
        "VERIFIED_FRESH",
        timedelta(hours=1),
        (("sent", 0), ("delivered", 30), ("read", 600)),
        ("vk", SOCIAL_RU),
    ),
    # delivered in OK after two hours of a day's TTL, never read
    Sent(
        "patient",
        "+79230000002",
        "deliver",
        "SUSPICIOUS",
        timedelta(hours=24),
        (("sent", 0), ("delivered", 2 * H)),
        ("ok", SOCIAL_RU),
    ),
    # owner_changed: straight to SMS, twice in Kazakhstan
    Sent(
        "recycled",
        "+77010000003",
        "sms",
        "OWNER_CHANGED",
        timedelta(hours=1),
        (("sms_sent", 0), ("sms_delivered", 5)),
        ("sms", SMS_KZ),
        country="77",
    ),
    Sent(
        "recycled again",
        "+77010000004",
        "sms",
        "OWNER_CHANGED",
        timedelta(hours=1),
        (("sms_sent", 0), ("sms_delivered", 6)),
        ("sms", SMS_KZ),
        country="77",
    ),
    # not delivered within the hour: withdrawn, then an SMS that failed
    Sent(
        "unseen",
        "+79230000005",
        "deliver",
        "SUSPICIOUS",
        timedelta(hours=1),
        (("sent", 0), ("expired", H), ("sms_sent", H), ("sms_failed", H + 10)),
    ),
    # a re-verification unanswered within five minutes: SMS
    Sent(
        "silent",
        "+79230000006",
        "reverify",
        "SUSPICIOUS",
        timedelta(minutes=5),
        (("reverify_pending", 0), ("expired", 300), ("sms_sent", 300), ("sms_delivered", 303)),
        ("sms", SMS_RU),
    ),
    # a re-verification denied: SMS at once
    Sent(
        "denied",
        "+375291234567",
        "reverify",
        "SUSPICIOUS",
        timedelta(hours=1),
        (("reverify_pending", 0), ("sms_sent", 20), ("sms_delivered", 30)),
        ("sms", SMS_BY),
        country="375",
    ),
    # both networks refused it: each claim stays in the history, then SMS at once
    Sent(
        "refused",
        "+79230000008",
        "deliver",
        "VERIFIED_OLDER_PROOF",
        timedelta(hours=1),
        (
            ("sent", 0, {"channel": "vk"}),
            ("sent", 0, {"channel": "ok"}),
            ("sms_sent", 0, {"refused_by": {"vk": "INACTIVE", "ok": "INACTIVE"}}),
            ("sms_delivered", 8),
        ),
        ("sms", SMS_RU),
    ),
    # the network refused to show a re-verification prompt: SMS at once, nobody said No
    Sent(
        "prompt refused",
        "+79230000011",
        "reverify",
        "SUSPICIOUS",
        timedelta(hours=1),
        (
            ("reverify_pending", 0, {"channel": "vk"}),
            ("sms_sent", 0, {"refused_by": {"vk": "INACTIVE"}}),
            ("sms_delivered", 7),
        ),
        ("sms", SMS_RU),
    ),
    # fallback: none, not delivered within 15 s: expired, and that is all
    Sent(
        "brief",
        "+79230000009",
        "deliver",
        "VERIFIED_FRESH",
        timedelta(seconds=15),
        (("sent", 0), ("expired", 15)),
        fallback="none",
    ),
    # a confirmed re-verification, then delivered and read in VK
    Sent(
        "confirmed",
        "+79230000010",
        "reverify",
        "SUSPICIOUS",
        timedelta(hours=1),
        (("reverify_pending", 0), ("sent", 40), ("delivered", 50), ("read", 90)),
        ("vk", SOCIAL_RU),
    ),
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    return store_of(tmp_path_factory.mktemp("store"), *NOTIFICATIONS)


def store_of(folder: Path, *notifications: Sent) -> str:
    """A store of its own in `folder`, holding only `notifications`."""
    url = f"sqlite:///{folder / 'ownership.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine).begin() as session:
        cipher = SecretCipher([Fernet.generate_key().decode()])
        key = register_client(session, "bank", ["127.0.0.1/32"], cipher).key
    with engine.begin() as connection:
        for sent in notifications:
            _insert(connection, key, sent)
    engine.dispose()
    return url


def _insert(connection: Connection, client_key: str, sent: Sent) -> None:
    final, last = sent.path[-1]
    connection.execute(
        insert(records.notifications).values(
            id=sent.name,
            client_key=client_key,
            request_id=sent.name,
            request_hash="-",
            phone=sent.phone,
            country=sent.country,
            template_id="tpl",
            text="-",
            action_type="order",
            action_at=T0,
            sensitive=sent.decision == "reverify",
            mobile_only=False,
            fallback=sent.fallback,
            decision=sent.decision,
            policy_case=sent.policy_case,
            number_status="verified",
            reasons=[],
            status=final,
            channel=None,
            created_at=T0,
            expires_at=T0 + sent.ttl,
            updated_at=T0 + timedelta(seconds=last),
            answer={},
        )
    )
    for status, seconds, *detail in (("accepted", 0.0), *sent.path):
        connection.execute(
            insert(records.events).values(
                notification_id=sent.name,
                status=status,
                at=T0 + timedelta(seconds=seconds),
                detail=detail[0] if detail else {},
            )
        )
    if sent.billed is not None:
        channel, price = sent.billed
        at = T0 + timedelta(
            seconds={step[0]: step[1] for step in sent.path}[
                "sms_delivered" if channel == "sms" else "delivered"
            ]
        )
        connection.execute(
            insert(records.ledger).values(
                notification_id=sent.name,
                client_key=client_key,
                channel=channel,
                country=sent.country,
                price=price,
                currency="RUB",
                delivered_at=at,
                month=at.strftime("%Y-%m"),
            )
        )


def rows(frame: pl.DataFrame, *columns: str) -> list[tuple[object, ...]]:
    return frame.select(columns).rows()


def test_the_funnel_counts_each_status_and_how_soon_after_acceptance(store: str) -> None:
    stages = analytics.delivery_funnel(store).stages

    assert rows(stages, "stage", "notifications", "within_1m", "within_1h", "within_24h") == [
        ("accepted", 11, 11, 11, 11),
        ("reverify_pending", 3, 3, 3, 3),  # not the prompt the network refused
        ("sent", 5, 5, 5, 5),  # not the message both networks refused
        ("delivered", 3, 2, 2, 3),
        ("read", 2, 0, 2, 2),
        ("expired", 3, 1, 3, 3),  # the hour's bound is included
        ("sms_sent", 7, 5, 7, 7),
        ("sms_delivered", 6, 5, 6, 6),
        ("sms_failed", 1, 0, 0, 1),
        ("failed", 0, 0, 0, 0),
    ]
    assert stages["share_of_accepted"].to_list()[:4] == pytest.approx([1, 3 / 11, 5 / 11, 3 / 11])
    assert stages.row(by_predicate=pl.col("stage") == "delivered", named=True)[
        "median_seconds"
    ] == pytest.approx(50)


def test_the_timing_is_of_the_notifications_sent_beside_the_published_shares(store: str) -> None:
    timing = analytics.delivery_funnel(store).timing

    assert rows(timing, "measure", "label", "sent_notifications", "reached") == [
        ("delivered", "1 min", 5, 2),
        ("delivered", "1 h", 5, 2),
        ("delivered", "24 h", 5, 3),
        ("read", "24 h", 5, 2),
    ]
    assert timing["share"].to_list() == pytest.approx([2 / 5, 2 / 5, 3 / 5, 2 / 5])
    assert timing["published_share"].to_list() == pytest.approx([0.42, 0.60, 0.90, 0.85])


def test_the_funnel_of_one_ttl_counts_only_its_notifications(store: str) -> None:
    funnel = analytics.delivery_funnel(store, ttl=timedelta(hours=24))

    assert funnel.stages.item(0, "notifications") == 1
    assert rows(funnel.timing, "sent_notifications", "reached") == [(1, 0), (1, 0), (1, 1), (1, 0)]


def test_fallbacks_are_counted_by_reason_with_their_sms_outcome(store: str) -> None:
    reasons = analytics.fallbacks_by_reason(store)

    assert rows(reasons, "reason", "notifications", "sms_delivered", "sms_failed") == [
        ("CHANNEL_REFUSED", 2, 2, 0),  # a message and a prompt
        ("OWNER_CHANGED", 2, 2, 0),
        ("REVERIFICATION_DENIED", 1, 1, 0),
        ("TTL_NOT_ANSWERED", 1, 1, 0),
        ("TTL_NOT_DELIVERED", 1, 0, 1),
    ]
    assert reasons["share"].to_list() == pytest.approx([2 / 7, 2 / 7, 1 / 7, 1 / 7, 1 / 7])


def test_billing_is_the_ledger_by_country_and_channel(store: str) -> None:
    billing = analytics.billing_by_country_channel(store, COUNTRIES)

    assert rows(billing, "iso", "channel", "delivered", "billed") == [
        ("RU", "sms", 3, Decimal("13.5000")),
        ("KZ", "sms", 2, Decimal("10.0000")),
        ("BY", "sms", 1, Decimal("7.0000")),
        ("RU", "vk", 2, Decimal("0.9000")),
        ("RU", "ok", 1, Decimal("0.4500")),
    ]


def test_the_bill_is_set_beside_the_same_notifications_all_by_sms(store: str) -> None:
    compared = analytics.billed_against_sms(store, PRICES, countries=COUNTRIES)

    assert rows(compared.by_country, "iso", "notifications", "delivered", "social_delivered") == [
        ("RU", 8, 6, 3),
        ("KZ", 2, 2, 0),
        ("BY", 1, 1, 0),
    ]
    assert compared.by_country["all_sms_rub"].to_list() == pytest.approx([36.0, 10.0, 7.0])
    assert compared.by_country["billed_rub"].to_list() == pytest.approx([14.85, 10.0, 7.0])
    total = compared.total.row(0, named=True)
    assert total["all_sms_rub"] == pytest.approx(53.0)
    assert total["billed_rub"] == pytest.approx(31.85)
    assert total["saving_share"] == pytest.approx(1 - 31.85 / 53.0)
    assert total["notifications_without_price"] == 0


def test_the_bills_counts_are_whole_numbers(store: str) -> None:
    compared = analytics.billed_against_sms(store, PRICES, countries=COUNTRIES)

    for frame in (compared.by_country, compared.total):
        counts = frame.select("notifications", "delivered", "social_delivered")
        assert all(dtype == pl.Int64 for dtype in counts.dtypes)
    assert compared.total["notifications_without_price"].dtype == pl.Int64


def test_the_bill_is_priced_as_of_a_day_as_of_that_days_start(store: str) -> None:
    on_the_day = analytics.billed_against_sms(store, PRICES, at=date(2026, 11, 1))
    at_its_start = analytics.billed_against_sms(store, PRICES, at=datetime(2026, 11, 1))

    assert on_the_day.total.equals(at_its_start.total)


def test_a_store_that_is_not_there_is_named(tmp_path: Path) -> None:
    with pytest.raises(AnalyticsInputError, match="no such store file"):
        analytics.delivery_funnel(f"sqlite:///{tmp_path / 'missing.db'}")
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql+psycopg://postgres@127.0.0.1:5432/no_such_database_here", "cannot read"),
        ("postgresql+nodriver://127.0.0.1/test", "no database of that kind"),
        ("mysql://reader@127.0.0.1/store", "needs a driver not installed here"),
        ("not a url", "is no store URL"),
    ],
)
def test_a_store_that_cannot_be_read_is_said_in_one_line(url: str, says: str) -> None:
    with pytest.raises(AnalyticsInputError, match=says) as caught:
        analytics.delivery_funnel(url)
    assert "\n" not in str(caught.value) and "sqlalche.me" not in str(caught.value)


def test_a_ttl_no_notification_had_measures_nothing_rather_than_zero(store: str) -> None:
    # the notebook prints "no data" for these, as on a day of default TTLs only
    timing = analytics.delivery_funnel(store, ttl=timedelta(hours=2)).timing

    assert timing["sent_notifications"].to_list() == [0, 0, 0, 0]
    assert timing["share"].to_list() == [None, None, None, None]


def test_a_prompt_answered_yes_whose_message_is_refused_keeps_its_prompt(tmp_path: Path) -> None:
    # the prompt was shown and answered; only the message after the Yes was refused
    confirmed_refused = Sent(
        "yes, then refused",
        "+79230000012",
        "reverify",
        "SUSPICIOUS",
        timedelta(hours=1),
        (
            ("reverify_pending", 0, {"channel": "vk"}),
            ("sent", 40, {"channel": "vk", "confirmed": True}),
            ("sms_sent", 40, {"refused_by": {"vk": "NO_ACTIVE_ACCOUNT"}}),
            ("sms_delivered", 45),
        ),
        ("sms", SMS_RU),
    )
    url = store_of(tmp_path, confirmed_refused)

    stages = analytics.delivery_funnel(url).stages
    reasons = analytics.fallbacks_by_reason(url)

    taken = {stage: count for stage, count in rows(stages, "stage", "notifications")}
    assert (taken["reverify_pending"], taken["sent"], taken["sms_sent"]) == (1, 0, 1)
    assert rows(reasons, "reason", "notifications") == [("CHANNEL_REFUSED", 1)]


def test_the_timing_counts_from_the_message_sent_not_from_the_re_verification_before_it(
    tmp_path: Path,
) -> None:
    # a sensitive notification answered Yes after an hour, then delivered in half a minute:
    # the network delivered it within the minute, as the published figures count
    confirmed_late = Sent(
        "yes after an hour",
        "+79230000013",
        "reverify",
        "VERIFIED_OLDER_PROOF",
        timedelta(hours=24),
        (
            ("reverify_pending", 0, {"channel": "vk"}),
            ("sent", H, {"channel": "vk", "confirmed": True}),
            ("delivered", H + 30),
            ("read", H + 600),
        ),
        ("vk", SOCIAL_RU),
    )
    url = store_of(tmp_path, confirmed_late)

    funnel = analytics.delivery_funnel(url)

    assert rows(funnel.timing, "measure", "label", "sent_notifications", "reached") == [
        ("delivered", "1 min", 1, 1),
        ("delivered", "1 h", 1, 1),
        ("delivered", "24 h", 1, 1),
        ("read", "24 h", 1, 1),
    ]
    # the funnel itself still counts from acceptance, as the client waited
    delivered = funnel.stages.row(by_predicate=pl.col("stage") == "delivered", named=True)
    assert (delivered["within_1m"], delivered["within_1h"], delivered["within_24h"]) == (0, 0, 1)


def test_three_wrong_codes_are_counted_apart_from_a_denial(tmp_path: Path) -> None:
    # a wrong code is no answer: the number is not owner_changed for it, nor is it a No
    code_failed = Sent(
        "three wrong codes",
        "+79230000013",
        "reverify",
        "SUSPICIOUS",
        timedelta(hours=1),
        (
            ("reverify_pending", 0, {"channel": "vk", "method": "sms_code"}),
            ("sms_sent", 90, {"code_failed": True}),
            ("sms_delivered", 95),
        ),
        ("sms", SMS_RU),
    )
    denied = next(sent for sent in NOTIFICATIONS if sent.name == "denied")
    url = store_of(tmp_path, code_failed, denied)

    reasons = analytics.fallbacks_by_reason(url)

    assert rows(reasons, "reason", "notifications") == [
        ("REVERIFICATION_CODE_FAILED", 1),
        ("REVERIFICATION_DENIED", 1),
    ]
