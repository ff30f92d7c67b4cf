"""Re-verification by an SMS code (DESIGN §7), on SQLite and PostgreSQL: a notification that asks
for it gets one code SMS, never billed, and a prompt for the code; the right code confirms as a
Yes does, three wrong ones fail it into SMS without making the number owner_changed, no code by
the TTL is no_answer; the code is kept nowhere in clear; a code and a Yes/No are each refused
where the other was asked."""

from __future__ import annotations

import json
import logging
import re
import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, inspect, select, text

from delivery import code_records, records
from delivery.channels.ports import ChannelUnavailableError, Refusal, SendResult, SmsMessage
from delivery.events import AnswerKindError
from delivery.export import export_verifications
from ownership.codes import CodeOutcome, ReverifyMethod
from ownership.notifications import Fallback
from pipelines.scoring import ScoreRequest, score
from store.clients import reseal_code_salts
from store.database import session_factory
from store.secrets import SecretCipher
from tests.api.service import SUSPICIOUS
from tests.delivery.conftest import Notifier
from tests.delivery.test_notify import ledger, statuses
from tests.delivery.test_notify_edges import told_everything
from tests.factories import AS_OF

CODE = re.compile(r"[0-9]{6}")
TTL = timedelta(minutes=10)


def ask_a_code(notifier: Notifier, request_id: str = "c-1", **overrides: object) -> str:
    fields: dict[str, object] = {"sensitive": True, "reverify": ReverifyMethod.SMS_CODE}
    return notifier.notify(SUSPICIOUS, request_id, **(fields | overrides))


def the_code(notifier: Notifier) -> str:
    """The code the person reads in the last code SMS."""
    found = CODE.search(notifier.sms.codes[-1].text)
    assert found is not None
    return found.group(0)


def a_wrong_code(right: str) -> str:
    return f"{(int(right) + 1) % 1_000_000:06d}"


def verifications(engine: Engine) -> list[tuple[str, str]]:
    table = records.verifications
    with engine.connect() as connection:
        rows = connection.execute(select(table.c.method, table.c.result).order_by(table.c.id))
        return [(row.method, row.result) for row in rows]


def test_it_sends_one_code_sms_and_asks_for_the_code_in_the_network(notifier: Notifier) -> None:
    asked = ask_a_code(notifier)

    assert [(sms.notification_id, sms.message_id) for sms in notifier.sms.codes] == [
        (asked, f"{asked}:code:1")
    ]
    assert notifier.sms.codes[0].phone == SUSPICIOUS
    assert CODE.search(notifier.sms.codes[0].text)
    assert notifier.sms.sent == []  # the notification's own SMS: none
    assert notifier.ok.asked == [
        (asked, SUSPICIOUS, "Введите код из SMS, отправленного на +790* *** ** 33")
    ]
    assert statuses(notifier, asked) == ["accepted", "reverify_pending"]


def test_the_right_code_confirms_shows_the_message_and_bills_only_the_delivery(
    notifier: Notifier, engine: Engine
) -> None:
    asked = ask_a_code(notifier)

    outcome = notifier.service.code_entered(asked, the_code(notifier), notifier.clock.now())

    assert outcome is CodeOutcome.CONFIRMED
    assert [row[0] for row in notifier.ok.sent] == [asked]  # the message, shown
    assert notifier.service.delivered(asked, notifier.clock.now())
    assert statuses(notifier, asked) == ["accepted", "reverify_pending", "sent", "delivered"]
    assert verifications(engine) == [("sms_code", "confirmed")]
    # billed once, as a social delivery; the code's SMS is the service's own cost
    assert ledger(engine) == [(asked, "ok", Decimal("0.4500"))]
    # and the number is fresh: the next sensitive notification is delivered without asking
    again = ask_a_code(notifier, "c-2", action_at=notifier.clock.now())
    assert notifier.status(again) == "sent"
    assert len(notifier.sms.codes) == 1


def test_three_wrong_codes_fail_it_into_sms_and_the_number_stays_its_owners(
    notifier: Notifier, engine: Engine
) -> None:
    asked = ask_a_code(notifier)
    wrong = a_wrong_code(the_code(notifier))
    outcomes = []
    for second in range(3):
        moment = notifier.clock.now() + timedelta(seconds=second)
        outcomes.append(notifier.service.code_entered(asked, wrong, moment))

    assert outcomes == [CodeOutcome.WRONG, CodeOutcome.WRONG, CodeOutcome.FAILED]
    assert statuses(notifier, asked) == ["accepted", "reverify_pending", "sms_sent"]
    assert [row[0] for row in notifier.sms.sent] == [asked]
    assert verifications(engine) == [("sms_code", "failed")]
    # no denial: a regular notification to the number still goes in the network
    regular = notifier.notify(SUSPICIOUS, "r-2")
    assert notifier.status(regular) == "sent"
    # and a fourth code, right or not, is taken no more
    late = notifier.service.code_entered(asked, the_code(notifier), notifier.clock.now())
    assert late is CodeOutcome.IGNORED


def test_a_gateways_repeated_report_of_a_wrong_code_counts_once(notifier: Notifier) -> None:
    asked = ask_a_code(notifier)
    wrong, moment = a_wrong_code(the_code(notifier)), notifier.clock.now()

    for _ in range(3):
        notifier.service.code_entered(asked, wrong, moment)

    assert notifier.status(asked) == "reverify_pending"
    with notifier.service.engine.connect() as connection:
        kept = code_records.fetch_code(connection, asked)
    assert kept is not None and kept["attempts"] == 1


def test_no_code_by_the_ttl_is_no_answer_and_goes_by_sms(
    notifier: Notifier, engine: Engine
) -> None:
    asked = ask_a_code(notifier, ttl=TTL)
    notifier.service.code_entered(asked, a_wrong_code(the_code(notifier)), notifier.clock.now())

    notifier.clock.advance(TTL + timedelta(seconds=1))
    notifier.service.sweep()

    assert statuses(notifier, asked) == ["accepted", "reverify_pending", "expired", "sms_sent"]
    assert verifications(engine) == [("sms_code", "no_answer")]
    assert told_everything(notifier, asked)


def test_a_right_code_after_the_ttl_is_kept_for_the_batch_and_sends_nothing(
    notifier: Notifier, engine: Engine
) -> None:
    asked = ask_a_code(notifier, ttl=TTL)
    notifier.clock.advance(TTL + timedelta(seconds=1))
    notifier.service.sweep()

    late = notifier.service.code_entered(asked, the_code(notifier), notifier.clock.now())

    assert late is CodeOutcome.CONFIRMED
    assert notifier.ok.sent == []
    assert statuses(notifier, asked) == ["accepted", "reverify_pending", "expired", "sms_sent"]
    assert verifications(engine) == [("sms_code", "no_answer"), ("sms_code", "confirmed")]


def test_the_code_is_kept_nowhere_in_clear(notifier: Notifier, engine: Engine) -> None:
    asked = ask_a_code(notifier)
    code = the_code(notifier)
    notifier.service.code_entered(asked, a_wrong_code(code), notifier.clock.now())
    notifier.service.code_entered(asked, code, notifier.clock.now() + timedelta(seconds=1))
    notifier.service.delivered(asked, notifier.clock.now())

    with engine.connect() as connection:
        kept = code_records.fetch_code(connection, asked)
        everything = [
            json.dumps(
                [list(row) for row in connection.execute(text(f"select * from {name}"))],
                default=str,
            )
            for name in inspect(engine).get_table_names()
        ]
    assert kept is not None and kept["result"] == "confirmed" and kept["attempts"] == 2
    assert len(kept["digest"]) == 64 and code not in kept["digest"]
    assert not any(code in dumped for dumped in everything)  # no row of any table holds it
    found = notifier.service.notification(notifier.client_key, asked)
    assert found is not None and code not in json.dumps(found, default=str)
    assert not any(code in repr(event) for event in notifier.webhooks.events)


def test_a_code_for_a_yes_no_prompt_and_a_yes_for_a_code_are_refused(notifier: Notifier) -> None:
    prompt = notifier.notify(SUSPICIOUS, "p-1", sensitive=True)
    code = ask_a_code(notifier)

    with pytest.raises(AnswerKindError, match="asked for a Yes or No, not an SMS code"):
        notifier.service.code_entered(prompt, "123456", notifier.clock.now())
    with pytest.raises(AnswerKindError, match="asked for an SMS code, not a Yes or No"):
        notifier.service.answered(code, confirmed=True, at=notifier.clock.now())
    assert notifier.status(prompt) == notifier.status(code) == "reverify_pending"


def test_while_the_sms_gateway_is_down_it_stays_accepted_and_goes_once_it_is_back(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(sms: SmsMessage) -> SendResult:
        raise ChannelUnavailableError("the SMS gateway is down", never_sent=True)

    working = notifier.sms.send
    monkeypatch.setattr(notifier.sms, "send", down)
    asked = ask_a_code(notifier)

    with notifier.service.engine.connect() as connection:
        row = records.fetch(connection, asked)
    assert row is not None and row["status"] == "accepted"  # given back, for the next round
    assert notifier.ok.asked == []  # no prompt for a code that never went
    monkeypatch.setattr(notifier.sms, "send", working)
    notifier.next_round()

    assert len(notifier.sms.codes) == 1 and len(notifier.ok.asked) == 1
    assert statuses(notifier, asked) == ["accepted", "reverify_pending"]
    assert told_everything(notifier, asked)


def test_a_code_whose_sms_went_is_not_sent_again_when_the_network_was_down(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    asking = notifier.ok.ask

    def unreachable(prompt: object) -> SendResult:
        raise ChannelUnavailableError("OK is down", never_sent=True)

    monkeypatch.setattr(notifier.ok, "ask", unreachable)
    asked = ask_a_code(notifier)
    monkeypatch.setattr(notifier.ok, "ask", asking)
    notifier.next_round()

    assert len(notifier.sms.codes) == 1  # the first code stands
    assert notifier.status(asked) == "reverify_pending"
    outcome = notifier.service.code_entered(asked, the_code(notifier), notifier.clock.now())
    assert outcome is CodeOutcome.CONFIRMED


def test_a_repeat_asking_another_way_is_a_conflict(notifier: Notifier) -> None:
    from delivery.notify import RequestConflictError

    ask_a_code(notifier, "same")
    with pytest.raises(RequestConflictError):
        notifier.service.accept(
            notifier.client_key, notifier.request(SUSPICIOUS, "same", sensitive=True)
        )
    repeat = notifier.request(SUSPICIOUS, "same", sensitive=True, reverify=ReverifyMethod.SMS_CODE)
    assert notifier.service.accept(notifier.client_key, repeat).repeated


def test_a_right_code_reaches_the_next_batch_run_as_a_confirmation(
    notifier: Notifier, engine: Engine, scored: Path, tmp_path: Path
) -> None:
    asked = ask_a_code(notifier)
    notifier.service.code_entered(asked, the_code(notifier), notifier.clock.now())
    history = tmp_path / "history"
    shutil.copytree(scored.parent / "events", history)

    export_verifications(engine, history)
    rescored = tmp_path / "rescored"
    score(ScoreRequest(history, rescored, as_of=AS_OF + timedelta(days=2)))

    exported = pq.read_table(next((history / "verifications").glob("notify-*"))).to_pylist()
    assert [(row["method"], row["result"]) for row in exported] == [("sms_code", "confirmed")]
    scores = pq.read_table(rescored / "scores.parquet").to_pylist()
    (row,) = [row for row in scores if row["phone"] == SUSPICIOUS]
    assert row["status"] == "verified" and "RECENT_CONFIRMATION" in row["reasons"]


def test_a_gateway_whose_answer_never_comes_gets_at_most_three_codes_then_the_sms(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[SmsMessage] = []

    def times_out(sms: SmsMessage) -> SendResult:
        taken.append(sms)  # it may have taken it: its answer never came
        raise ChannelUnavailableError("the SMS gateway timed out")

    monkeypatch.setattr(notifier.sms, "send", times_out)
    asked = ask_a_code(notifier)
    for _ in range(20):
        notifier.next_round()

    codes = [sms for sms in taken if sms.message_id != asked]
    assert [sms.message_id for sms in codes] == [f"{asked}:code:{n}" for n in (1, 2, 3)]
    assert {sms.message_id for sms in taken} - {sms.message_id for sms in codes} == {asked}
    assert notifier.status(asked) in ("accepted", "sms_sent")  # its own SMS, one id, retried


def test_a_gateway_that_cannot_be_reached_draws_no_code_against_the_three(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(sms: SmsMessage) -> SendResult:
        raise ChannelUnavailableError("connection refused", never_sent=True)

    working = notifier.sms.send
    monkeypatch.setattr(notifier.sms, "send", unreachable)
    asked = ask_a_code(notifier)
    for _ in range(6):
        notifier.next_round()
    monkeypatch.setattr(notifier.sms, "send", working)
    notifier.next_round()

    assert [sms.message_id for sms in notifier.sms.codes] == [f"{asked}:code:1"]
    assert notifier.status(asked) == "reverify_pending"


def test_three_wrong_codes_without_a_fallback_end_it_without_an_sms(
    notifier: Notifier, engine: Engine
) -> None:
    asked = ask_a_code(notifier, fallback=Fallback.NONE)
    wrong = a_wrong_code(the_code(notifier))
    for second in range(3):
        notifier.service.code_entered(
            asked, wrong, notifier.clock.now() + timedelta(seconds=second)
        )

    assert statuses(notifier, asked) == ["accepted", "reverify_pending", "failed"]
    assert notifier.sms.sent == [] and ledger(engine) == []
    assert verifications(engine) == [("sms_code", "failed")]


def test_a_code_the_gateway_refuses_without_a_fallback_ends_it_without_an_sms(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = SendResult.refused(Refusal.REJECTED, "blocked sender")
    monkeypatch.setattr(notifier.sms, "send", lambda sms: refused)

    asked = ask_a_code(notifier, fallback=Fallback.NONE)

    assert statuses(notifier, asked) == ["accepted", "reverify_pending", "failed"]
    found = notifier.service.notification(notifier.client_key, asked)
    assert found is not None and "blocked sender" not in json.dumps(found, default=str)


def test_the_rows_salt_is_sealed_so_the_row_alone_does_not_give_the_code_away(
    notifier: Notifier,
) -> None:
    asked = ask_a_code(notifier)
    with notifier.service.engine.connect() as connection:
        kept = code_records.fetch_code(connection, asked)
    assert kept is not None

    assert kept["salt"].startswith("gAAAAA")  # a Fernet token, opened by the store's key
    with pytest.raises(ValueError):
        bytes.fromhex(kept["salt"])


def test_a_gateway_echoing_the_code_in_its_error_leaves_it_out_of_the_log(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    echoed: list[str] = []

    def echoes(sms: SmsMessage) -> SendResult:
        echoed.append(sms.text)
        raise ChannelUnavailableError(f"POST /messages: the gateway answered 400 {sms.text!r}")

    monkeypatch.setattr(notifier.sms, "send", echoes)
    with caplog.at_level(logging.DEBUG):
        ask_a_code(notifier)

    code = CODE.search(echoed[0])
    assert code is not None and "unavailable for the code" in caplog.text
    assert code.group(0) not in caplog.text


def test_a_code_in_flight_is_resealed_with_the_clients_when_the_secret_key_changes(
    notifier: Notifier,
) -> None:
    old_key, new_key = (Fernet.generate_key().decode("ascii") for _ in range(2))
    notifier.service.code_cipher = SecretCipher([old_key])
    asked = ask_a_code(notifier)
    both = SecretCipher([new_key, old_key])

    with session_factory(notifier.service.engine).begin() as session:
        reseal_code_salts(session, both)  # as `ownership clients reseal` with NEW,OLD does
    notifier.service.code_cipher = SecretCipher([new_key])  # then OLD dropped

    outcome = notifier.service.code_entered(asked, the_code(notifier), notifier.clock.now())
    assert outcome is CodeOutcome.CONFIRMED


def test_a_code_sealed_under_a_dropped_key_is_ignored_not_an_error(
    notifier: Notifier, caplog: pytest.LogCaptureFixture
) -> None:
    asked = ask_a_code(notifier)
    notifier.service.code_cipher = SecretCipher([Fernet.generate_key().decode("ascii")])

    outcome = notifier.service.code_entered(asked, the_code(notifier), notifier.clock.now())

    assert outcome is CodeOutcome.IGNORED and notifier.status(asked) == "reverify_pending"
    assert "sealed under a secret key this service lacks" in caplog.text
