"""`ownership notifications forget`, on SQLite and PostgreSQL: a dry run says what the
retention would forget and forgets nothing; the run forgets it and says how much; a retention
shorter than any client may repeat a request is refused in one line."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event

import delivery.forgetting
from pipelines.cli import main
from pipelines.entry import INTERRUPTED
from tests.api.service import VERIFIED_FRESH
from tests.delivery.conftest import Notifier
from tests.integration.cli_calls import refused_by_the_parser


@pytest.fixture
def a_year_and_more_later(
    notifier: Notifier, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Notifier:
    """The command on the notifier's store, its clock 401 days past the notifier's."""
    monkeypatch.setenv("OWNERSHIP_DATABASE_URL", database_url)
    monkeypatch.setenv("OWNERSHIP_CLOCK_ANCHOR", datetime.now(UTC).isoformat())
    later = notifier.clock.now() + timedelta(days=401)
    monkeypatch.setenv("OWNERSHIP_CLOCK_START", later.isoformat())
    return notifier


def test_a_dry_run_says_what_it_would_forget_then_the_run_forgets_it(
    a_year_and_more_later: Notifier, capsys: pytest.CaptureFixture[str]
) -> None:
    notifier = a_year_and_more_later
    sent = notifier.notify(VERIFIED_FRESH)
    notifier.service.delivered(sent, notifier.clock.now())
    notifier.notify(VERIFIED_FRESH, "under-way")

    assert main(["notifications", "forget", "--dry-run"]) == 0
    assert capsys.readouterr().out == (
        "would forget 1 notification whose outcome is over 400 days old "
        "(3 history entries, 0 SMS codes)\n"
    )
    assert notifier.service.notification(notifier.client_key, sent) is not None

    assert main(["notifications", "forget", "--older-than-days", "366"]) == 0
    assert capsys.readouterr().out.startswith("forgot 1 notification whose outcome is over 366")
    assert notifier.service.notification(notifier.client_key, sent) is None


@pytest.mark.parametrize("days", ["0", "-5", "30", "365"])
def test_a_retention_a_repeated_request_could_outlive_is_refused(
    days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = refused_by_the_parser(["notifications", "forget", "--older-than-days", days], capsys)

    assert refused.endswith(
        f"{days} is below 366: a client may be allowed user actions 365 "
        "days old, and a repeated request whose notification was forgotten "
        "sooner would be sent again"
    )


def delivered_long_ago(notifier: Notifier, count: int) -> list[str]:
    sent = [notifier.notify(VERIFIED_FRESH, f"old-{n}") for n in range(count)]
    for notification in sent:
        notifier.service.delivered(notification, notifier.clock.now())
    return sent


def ctrl_c_while_forgetting(monkeypatch: pytest.MonkeyPatch, presses: dict[int, int]) -> None:
    """The operator's Ctrl-C, `presses[n]` times while the nth batch (1 the first) is in hand."""
    forget, batches = delivery.forgetting._forget, iter(range(1, 100))

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        for _ in range(presses.get(next(batches), 0)):
            signal.raise_signal(signal.SIGINT)
        return forget(*args, **kwargs)

    monkeypatch.setattr(delivery.forgetting, "_forget", interrupted)


def still_kept(notifier: Notifier, sent: list[str]) -> int:
    return sum(notifier.service.notification(notifier.client_key, n) is not None for n in sent)


OVER_400_DAYS = "whose outcome is over 400 days old"


@pytest.mark.parametrize(
    ("notifications", "presses", "code", "said", "kept"),
    [
        pytest.param(
            3,
            {1: 1},
            INTERRUPTED,
            f"stopped: forgot 2 notifications {OVER_400_DAYS} (6 history entries, 0 SMS "
            "codes); run it again to go on",
            1,
            id="with more to forget",
        ),
        pytest.param(
            3,
            {2: 1},
            0,
            f"forgot 3 notifications {OVER_400_DAYS} (9 history entries, 0 SMS codes)",
            0,
            id="in the last batch",
        ),
        pytest.param(
            4,
            {2: 1},
            0,
            f"forgot 4 notifications {OVER_400_DAYS} (12 history entries, 0 SMS codes)",
            0,
            id="in a full last batch, which left nothing",
        ),
        pytest.param(
            5,
            {2: 2},
            INTERRUPTED,
            f"stopped at once: forgot 2 notifications {OVER_400_DAYS} (6 history entries, 0 "
            "SMS codes); run it again to go on",
            3,
            id="twice: the batch in hand undone",
        ),
        pytest.param(
            4,
            {2: 2},
            INTERRUPTED,
            f"stopped at once: forgot 2 notifications {OVER_400_DAYS} (6 history entries, 0 "
            "SMS codes); run it again to go on",
            2,
            id="twice in the last batch: it is undone, and left",
        ),
    ],
)
def test_a_ctrl_c_ends_the_batch_in_hand_and_says_what_was_forgotten(
    notifications: int,
    presses: dict[int, int],
    code: int,
    said: str,
    kept: int,
    a_year_and_more_later: Notifier,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = delivered_long_ago(a_year_and_more_later, notifications)
    ctrl_c_while_forgetting(monkeypatch, presses)
    handled_before = signal.getsignal(signal.SIGINT)

    assert main(["notifications", "forget", "--batch-size", "2"]) == code
    printed = capsys.readouterr()
    assert printed.out == said + "\n"
    assert "stopping after the batch in hand" in printed.err
    assert still_kept(a_year_and_more_later, sent) == kept
    assert signal.getsignal(signal.SIGINT) == handled_before  # the command's handler is gone


def test_with_the_retention_off_the_command_asks_how_old(
    a_year_and_more_later: Notifier,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    notifier = a_year_and_more_later
    sent = notifier.notify(VERIFIED_FRESH)
    notifier.service.delivered(sent, notifier.clock.now())
    monkeypatch.setenv("OWNERSHIP_NOTIFICATION_RETENTION_DAYS", "0")

    assert main(["notifications", "forget"]) == 2
    assert "the retention is off" in capsys.readouterr().err
    assert notifier.service.notification(notifier.client_key, sent) is not None

    assert main(["notifications", "forget", "--older-than-days", "400"]) == 0
    assert notifier.service.notification(notifier.client_key, sent) is None


def test_a_second_ctrl_c_as_a_batch_commits_waits_and_the_batch_is_said_forgotten(
    a_year_and_more_later: Notifier,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = delivered_long_ago(a_year_and_more_later, 5)
    forget, in_hand = delivery.forgetting._forget, list[int]()

    def pressed_with_the_first(*args: Any, **kwargs: Any) -> Any:
        in_hand.append(len(in_hand) + 1)
        if in_hand == [1]:
            signal.raise_signal(signal.SIGINT)  # the first press, with the first batch
        return forget(*args, **kwargs)

    def again_as_the_first_commits(connection: Any) -> None:
        if in_hand == [1]:
            in_hand.append(0)
            signal.raise_signal(signal.SIGINT)  # impatient: again, as it commits

    monkeypatch.setattr(delivery.forgetting, "_forget", pressed_with_the_first)

    event.listen(Engine, "commit", again_as_the_first_commits)
    try:
        assert main(["notifications", "forget", "--batch-size", "2"]) == INTERRUPTED
    finally:
        event.remove(Engine, "commit", again_as_the_first_commits)

    # the batch that was committing committed: it is counted, and the rest is left
    assert capsys.readouterr().out.startswith("stopped at once: forgot 2 notifications")
    assert still_kept(a_year_and_more_later, sent) == 3


def test_a_ctrl_c_as_the_store_closes_after_forgetting_waits_for_it_to_be_said(
    a_year_and_more_later: Notifier,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = delivered_long_ago(a_year_and_more_later, 3)
    forget, dispose, batches = delivery.forgetting._forget, Engine.dispose, list[int]()

    def pressed_with_the_first(*args: Any, **kwargs: Any) -> Any:
        batches.append(len(batches) + 1)
        if batches == [1]:
            signal.raise_signal(signal.SIGINT)
        return forget(*args, **kwargs)

    def pressed_again_while_closing(engine: Engine, close: bool = True) -> None:
        if batches:  # the command's store, after it forgot: closing SQLite's takes a while
            signal.raise_signal(signal.SIGINT)
        dispose(engine, close)

    monkeypatch.setattr(delivery.forgetting, "_forget", pressed_with_the_first)
    monkeypatch.setattr(Engine, "dispose", pressed_again_while_closing)

    assert main(["notifications", "forget", "--batch-size", "2"]) == INTERRUPTED
    assert capsys.readouterr().out.startswith("stopped: forgot 2 notifications")
    assert still_kept(a_year_and_more_later, sent) == 1


def test_a_second_ctrl_c_as_the_last_batch_commits_ends_as_any_run(
    a_year_and_more_later: Notifier,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent = delivered_long_ago(a_year_and_more_later, 2)
    forget, in_hand = delivery.forgetting._forget, list[int]()

    def pressed_with_the_batch(*args: Any, **kwargs: Any) -> Any:
        in_hand.append(1)
        signal.raise_signal(signal.SIGINT)
        return forget(*args, **kwargs)

    def again_as_it_commits(connection: Any) -> None:
        if in_hand == [1]:
            in_hand.append(0)
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(delivery.forgetting, "_forget", pressed_with_the_batch)
    event.listen(Engine, "commit", again_as_it_commits)
    try:
        assert main(["notifications", "forget", "--batch-size", "2"]) == 0
    finally:
        event.remove(Engine, "commit", again_as_it_commits)

    # the batch committed was the last: nothing is left to run again for
    assert capsys.readouterr().out.startswith("forgot 2 notifications")
    assert still_kept(a_year_and_more_later, sent) == 0
