"""The sweeper holds what it read until it has moved it: a Yes that comes between its read and
its move (dated before the TTL, reported after it) waits for the move, and finds the prompt
gone by SMS, on SQLite (one writer, held from the read) as on PostgreSQL (the rows held)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from ownership.channels import Channel
from tests.api.service import SUSPICIOUS
from tests.delivery.conftest import Notifier


def test_a_yes_between_the_sweepers_read_and_its_move_sends_no_message_to_the_network(
    notifier: Notifier,
) -> None:
    asked = notifier.notify(SUSPICIOUS, sensitive=True)  # OK asks
    answered_at = notifier.clock.now() + timedelta(minutes=59)  # before the TTL
    notifier.clock.advance(timedelta(hours=1, seconds=30))
    sweeper = threading.get_ident()
    held = threading.Event()  # SQLite: the sweeper took the store's write lock
    answering = threading.Thread(
        target=notifier.service.answered, args=(asked, True, answered_at), kwargs={"by": Channel.OK}
    )

    def answer_once_the_sweeper_has_read_what_it_moves(*args: Any) -> None:
        statement = args[2]
        if threading.get_ident() != sweeper or answering.ident is not None:
            return
        if statement == "BEGIN IMMEDIATE":
            held.set()
        elif statement.startswith("SELECT") and (held.is_set() or "FOR UPDATE" in statement):
            # the read it moves from (PostgreSQL holds its rows), after the networks were asked
            answering.start()
            answering.join(timeout=1)  # done at once, unless it waits for the sweeper

    event.listen(
        notifier.service.engine,
        "after_cursor_execute",
        answer_once_the_sweeper_has_read_what_it_moves,
    )
    try:
        notifier.service.sweep()
        answering.join()
    finally:
        event.remove(
            notifier.service.engine,
            "after_cursor_execute",
            answer_once_the_sweeper_has_read_what_it_moves,
        )

    assert answering.ident is not None
    assert notifier.ok.sent == []
    assert [row[0] for row in notifier.sms.sent] == [asked]
