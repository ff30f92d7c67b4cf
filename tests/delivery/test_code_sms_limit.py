"""Re-verification codes' SMS to one number are limited (DESIGN §7), on SQLite and PostgreSQL: at
most five within an hour, by default, for whatever notifications of whatever clients; past them
a notification's code is not sent, and it goes by its fallback as one whose code the SMS gateway
refused. A code whose SMS may have gone counts, one that surely never left does not; codes to
another number, or older than the window, do not."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from delivery.channels.ports import ChannelUnavailableError, SendResult, SmsKind, SmsMessage
from delivery.clock import VirtualClock
from delivery.runtime import build_notify_runtime
from delivery.templates import TemplateDesk
from ownership.codes import CodeSmsLimit, ReverifyMethod
from ownership.notifications import Fallback
from pipelines.moderation_rules import load_moderation_rules
from pipelines.settings import load_settings
from pipelines.snapshot import Snapshot
from store.clients import register_client
from store.secrets import SecretCipher
from tests.api.service import NOW, SUSPICIOUS, VERIFIED_OLDER
from tests.delivery.conftest import Notifier
from tests.delivery.test_notify import ledger, statuses
from tests.delivery.test_sms_code import TTL

LIMIT = CodeSmsLimit()
FIVE_CODES_AN_HOUR = "the number was sent as many codes as it may be within 60 minutes"


def ask_a_code(
    notifier: Notifier, request_id: str, *, phone: str = SUSPICIOUS, **overrides: object
) -> str:
    fields: dict[str, object] = {"sensitive": True, "reverify": ReverifyMethod.SMS_CODE}
    return notifier.notify(phone, request_id, **(fields | overrides))


def five_codes(notifier: Notifier, ttl: timedelta = timedelta(hours=1)) -> list[str]:
    asked = [ask_a_code(notifier, f"c-{n}", ttl=ttl) for n in range(1, 6)]
    assert len(notifier.sms.codes) == 5
    return asked


def code_refused(notifier: Notifier, notification_id: str) -> object:
    found = notifier.service.notification(notifier.client_key, notification_id)
    assert found is not None
    refusals = [
        step["detail"]["code_refused"]
        for step in found["history"]
        if "code_refused" in (step["detail"] or {})
    ]
    return refusals[0] if refusals else None


def test_the_limit_is_five_codes_an_hour_by_default() -> None:
    assert (LIMIT.per_number, LIMIT.window) == (5, timedelta(hours=1))
    assert LIMIT.refusal(4) is None
    assert LIMIT.refusal(5) == FIVE_CODES_AN_HOUR
    assert CodeSmsLimit(1).refusal(3) == FIVE_CODES_AN_HOUR  # whose codes, it does not say


def test_the_sixth_code_within_the_hour_is_not_sent_and_its_sms_goes_as_a_fallback(
    notifier: Notifier, engine: Engine
) -> None:
    five_codes(notifier)

    sixth = ask_a_code(notifier, "c-6")

    assert len(notifier.sms.codes) == 5  # no sixth code
    assert [row[0] for row in notifier.sms.sent] == [sixth]  # the notification's own SMS
    assert statuses(notifier, sixth) == ["accepted", "reverify_pending", "sms_sent"]
    assert code_refused(notifier, sixth) == FIVE_CODES_AN_HOUR
    assert notifier.service.sms_delivered(sixth, notifier.clock.now())
    assert ledger(engine) == [(sixth, "sms", Decimal("4.5000"))]  # billed as an SMS, once


def test_the_sixth_code_without_a_fallback_ends_it_failed_without_an_sms(
    notifier: Notifier, engine: Engine
) -> None:
    five_codes(notifier)

    sixth = ask_a_code(notifier, "c-6", fallback=Fallback.NONE)

    assert len(notifier.sms.codes) == 5 and notifier.sms.sent == []
    assert statuses(notifier, sixth) == ["accepted", "reverify_pending", "failed"]
    found = notifier.service.notification(notifier.client_key, sixth)
    assert found is not None and found["history"][-1]["detail"]["reason"] == "NO_CHANNEL"
    assert code_refused(notifier, sixth) == FIVE_CODES_AN_HOUR
    assert ledger(engine) == []


def test_codes_for_every_client_count_toward_one_numbers_limit(
    notifier: Notifier, sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    with sessions.begin() as session:
        shop = register_client(session, "shop", ["127.0.0.0/8"], cipher).key
    for n in range(3):
        ask_a_code(notifier, f"bank-{n}")
    for n in range(2):
        request = notifier.request(
            SUSPICIOUS, f"shop-{n}", sensitive=True, reverify=ReverifyMethod.SMS_CODE
        )
        notifier.service.accept(shop, request)
        notifier.service.dispatch_due()

    sixth = ask_a_code(notifier, "bank-3")

    assert len(notifier.sms.codes) == 5
    assert code_refused(notifier, sixth) == FIVE_CODES_AN_HOUR


def test_codes_to_another_number_do_not_count(notifier: Notifier) -> None:
    five_codes(notifier)
    refused = ask_a_code(notifier, "c-6")

    other = ask_a_code(notifier, "o-1", phone=VERIFIED_OLDER)

    assert code_refused(notifier, refused) == FIVE_CODES_AN_HOUR
    assert [sms.phone for sms in notifier.sms.codes] == [SUSPICIOUS] * 5 + [VERIFIED_OLDER]
    assert notifier.status(other) == "reverify_pending" and code_refused(notifier, other) is None


def test_codes_count_for_the_window_however_short_their_ttl_and_not_after_it(
    notifier: Notifier,
) -> None:
    five_codes(notifier, ttl=TTL)  # each ended long before the hour does: their codes count

    notifier.clock.advance(LIMIT.window - timedelta(minutes=1))
    within = ask_a_code(notifier, "c-6")
    notifier.clock.advance(timedelta(minutes=1, seconds=1))
    after = ask_a_code(notifier, "c-7")

    assert code_refused(notifier, within) == FIVE_CODES_AN_HOUR
    assert notifier.status(after) == "reverify_pending" and code_refused(notifier, after) is None
    assert [sms.notification_id for sms in notifier.sms.codes][-1] == after


def test_a_code_whose_sms_surely_never_left_does_not_count(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(sms: SmsMessage) -> SendResult:
        raise ChannelUnavailableError("connection refused", never_sent=True)

    working = notifier.sms.send
    monkeypatch.setattr(notifier.sms, "send", unreachable)
    first = ask_a_code(notifier, "c-1")
    for _ in range(6):  # six codes drawn, none of whose SMS left
        notifier.next_round()
    monkeypatch.setattr(notifier.sms, "send", working)
    notifier.next_round()
    others = [ask_a_code(notifier, f"c-{n}") for n in range(2, 6)]

    sixth = ask_a_code(notifier, "c-6")

    assert [sms.notification_id for sms in notifier.sms.codes] == [first, *others]
    assert all(notifier.status(asked) == "reverify_pending" for asked in [first, *others])
    assert code_refused(notifier, sixth) == FIVE_CODES_AN_HOUR


def test_a_notifications_codes_whose_sms_may_have_gone_count_each(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    working = notifier.sms.send
    tries: list[SmsMessage] = []

    def times_out_twice(sms: SmsMessage) -> SendResult:
        tries.append(sms)
        if len(tries) <= 2:  # it may have taken them: their answers never came
            raise ChannelUnavailableError("the SMS gateway timed out")
        return working(sms)

    monkeypatch.setattr(notifier.sms, "send", times_out_twice)
    first = ask_a_code(notifier, "c-1")
    notifier.next_round()
    notifier.next_round()  # its third code is taken
    second, third = ask_a_code(notifier, "c-2"), ask_a_code(notifier, "c-3")

    fourth = ask_a_code(notifier, "c-4")

    assert [sms.message_id for sms in tries if sms.kind is SmsKind.CODE] == [
        f"{first}:code:1",
        f"{first}:code:2",
        f"{first}:code:3",
        f"{second}:code:1",
        f"{third}:code:1",
    ]
    assert code_refused(notifier, fourth) == FIVE_CODES_AN_HOUR
    assert [sms.notification_id for sms in tries if sms.kind is SmsKind.MESSAGE] == [fourth]


def test_the_refusal_is_logged_with_the_notification_never_the_number(
    notifier: Notifier, caplog: pytest.LogCaptureFixture
) -> None:
    five_codes(notifier)

    with caplog.at_level(logging.INFO, logger="delivery.code_sending"):
        sixth = ask_a_code(notifier, "c-6")

    (line,) = [r.getMessage() for r in caplog.records if r.name == "delivery.code_sending"]
    assert line == f"no code SMS for {sixth}: {FIVE_CODES_AN_HOUR}"
    assert SUSPICIOUS not in caplog.text and SUSPICIOUS[1:] not in caplog.text


def test_the_limit_is_a_setting(
    engine: Engine, sessions: sessionmaker[Session], cipher: SecretCipher, scored: Path
) -> None:
    # as OWNERSHIP_CODE_SMS_PER_NUMBER and OWNERSHIP_CODE_SMS_WINDOW_MINUTES
    settings = load_settings(code_sms_per_number="3", code_sms_window_minutes="1440")
    desk = TemplateDesk(sessions, load_moderation_rules())
    snapshot = Snapshot(scored / "snapshot.bin")
    clock = VirtualClock(NOW.replace(tzinfo=UTC))

    runtime = build_notify_runtime(settings, engine, clock, lambda: snapshot, desk, cipher=cipher)

    assert runtime.service.code_sms_limit == CodeSmsLimit(3, timedelta(days=1))
