"""The notify path at its edges, on SQLite and PostgreSQL: a second worker holding a stale read,
an answer that comes after the TTL, a crash between the claim and the channel's answer, and
networks that refuse. Throughout, every entry of a notification's history reaches the client as
exactly one webhook, and only those do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from delivery import records
from delivery.channels.ports import ReverificationPrompt, SendResult, SocialMessage
from delivery.webhooks.events import NotificationStatusChanged
from ownership.notifications import Fallback
from tests.api.service import SUSPICIOUS, VERIFIED_FRESH
from tests.delivery.conftest import Notifier


class ProcessDied(BaseException):
    """The worker's process ends while the channel is being called."""


def history(notifier: Notifier, notification_id: str) -> list[str]:
    found = notifier.service.notification(notifier.client_key, notification_id)
    assert found is not None
    return [step["status"] for step in found["history"]]


def told(notifier: Notifier, notification_id: str) -> list[str]:
    """The statuses the client heard of by webhook, in order."""
    return [
        sent.event.status
        for sent in notifier.webhooks.events
        if isinstance(sent.event, NotificationStatusChanged)
        and sent.event.notification_id == notification_id
    ]


def told_everything(notifier: Notifier, notification_id: str) -> bool:
    """Each history entry after the 202's `accepted` reached the client once, in order."""
    return told(notifier, notification_id) == history(notifier, notification_id)[1:]


def verification_results(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(records.verifications.c.result).order_by(records.verifications.c.id)
            ).scalars()
        )


def test_a_worker_with_a_stale_read_does_not_ask_the_person_again(notifier: Notifier) -> None:
    accepted = notifier.service.accept(
        notifier.client_key, notifier.request(SUSPICIOUS, sensitive=True)
    )
    asked = str(accepted.answer["id"])
    with notifier.service.engine.connect() as connection:
        read_before_the_claim = records.fetch(connection, asked)
    assert read_before_the_claim is not None

    notifier.service.dispatch_due()  # the first worker asks
    # the second worker read the notification while it was still accepted
    assert notifier.service._dispatch(read_before_the_claim) == 0

    assert [row[0] for row in notifier.ok.asked] == [asked]
    assert history(notifier, asked) == ["accepted", "reverify_pending"]
    assert told_everything(notifier, asked)


def test_a_denial_that_comes_after_the_ttl_still_makes_the_number_owner_changed(
    notifier: Notifier, engine: Engine
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True, ttl=timedelta(minutes=10))
    found = notifier.service.notification(notifier.client_key, asked)
    assert found is not None
    notifier.ok.delivered_already.add(found["provider_id"])  # answered: cannot be withdrawn

    notifier.clock.advance(timedelta(minutes=11))
    notifier.service.sweep()  # the sweeper goes first: the notification goes by SMS
    taken = notifier.service.answered(asked, confirmed=False, at=notifier.clock.now())
    repeated = notifier.service.answered(asked, confirmed=False, at=notifier.clock.now())

    assert (taken, repeated) == (True, False)
    assert history(notifier, asked) == ["accepted", "reverify_pending", "expired", "sms_sent"]
    assert verification_results(engine) == ["denied"]  # and no `no_answer`: the person answered
    regular = notifier.notify(SUSPICIOUS, "r-2")
    assert notifier.status(regular) == "sms_sent"  # owner_changed for every client at once


def test_no_answer_within_the_ttl_is_kept_for_the_batch(notifier: Notifier, engine: Engine) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True, ttl=timedelta(minutes=10))

    notifier.clock.advance(timedelta(minutes=11))
    notifier.service.sweep()

    assert verification_results(engine) == ["no_answer"]
    with engine.connect() as connection:
        kept = connection.execute(select(records.verifications)).mappings().one()
    assert (kept["phone"], kept["method"], kept["notification_id"]) == (SUSPICIOUS, "prompt", asked)
    assert told_everything(notifier, asked)


def test_a_notification_no_network_takes_fails_and_the_client_is_told(
    notifier: Notifier,
) -> None:
    notifier.vk.refuse.add(VERIFIED_FRESH)
    notifier.ok.refuse.add(VERIFIED_FRESH)

    sent = notifier.notify(VERIFIED_FRESH, fallback=Fallback.NONE)

    assert history(notifier, sent) == ["accepted", "failed"]
    assert told(notifier, sent) == ["failed"]
    found = notifier.service.notification(notifier.client_key, sent)
    assert found is not None
    assert found["history"][-1]["detail"]["refused_by"] == {"vk": "NO_ACTIVE_ACCOUNT"}


def test_a_refusal_is_not_a_status_the_client_hears_of(notifier: Notifier) -> None:
    notifier.vk.refuse.add(VERIFIED_FRESH)

    sent = notifier.notify(VERIFIED_FRESH)

    assert history(notifier, sent) == ["accepted", "sms_sent"]
    assert told_everything(notifier, sent)


@pytest.mark.parametrize("sensitive", [False, True], ids=["delivery", "prompt"])
def test_a_crash_while_the_network_is_called_loses_no_webhook(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch, sensitive: bool
) -> None:
    phone = VERIFIED_FRESH if not sensitive else SUSPICIOUS
    network = notifier.vk if not sensitive else notifier.ok

    def dies(message: SocialMessage | ReverificationPrompt) -> SendResult:
        raise ProcessDied

    monkeypatch.setattr(network, "ask" if sensitive else "send", dies)
    accepted = notifier.service.accept(
        notifier.client_key, notifier.request(phone, sensitive=sensitive)
    )
    sent = str(accepted.answer["id"])
    with pytest.raises(ProcessDied):
        notifier.service.dispatch_due()
    monkeypatch.undo()

    # the next process: the claim is finished at the TTL, and the client hears all of it
    notifier.clock.advance(timedelta(hours=2))
    notifier.service.sweep()

    assert history(notifier, sent) == ["accepted", "expired", "sms_sent"]
    assert told_everything(notifier, sent)
