"""The answers given since the batch over the batch's verdict (ownership.live)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ownership.live import LiveAnswers, with_live_answers
from ownership.verdicts import NO_HISTORY_VERDICT, Evidence, Reason, Status, Verdict

AS_OF = datetime(2026, 6, 1)
NOW = datetime(2026, 6, 3, 12)
CODE_AT = datetime(2026, 3, 1)
SUSPICIOUS = Verdict(
    Status.SUSPICIOUS, 550, (Evidence(Reason.NO_RECENT_CODE, CODE_AT),), datetime(2025, 1, 1)
)
VERIFIED = Verdict(
    Status.VERIFIED, 90, (Evidence(Reason.RECENT_CODE_ENTRY, CODE_AT),), datetime(2025, 1, 1)
)


def test_no_answers_leave_the_verdict_as_it_is() -> None:
    assert with_live_answers(SUSPICIOUS, None, NOW) is SUSPICIOUS
    assert with_live_answers(SUSPICIOUS, LiveAnswers(), NOW) is SUSPICIOUS


def test_a_no_since_the_batch_makes_the_number_owner_changed_from_the_no() -> None:
    denied = datetime(2026, 6, 2, 8)

    verdict = with_live_answers(SUSPICIOUS, LiveAnswers(denied_at=denied), NOW)

    assert verdict.status is Status.OWNER_CHANGED
    assert verdict.evidence == (Evidence(Reason.OWNER_DENIED, denied),)
    # the No tells who no longer holds the number, not who does: no holder is vouched for
    assert verdict.owner_since is None
    assert 700 <= verdict.risk_score <= 1000
    assert verdict.changed_since(datetime(2026, 6, 1), datetime(2024, 1, 1)) is True
    assert verdict.changed_since(NOW, datetime(2024, 1, 1)) is True
    assert verdict.held_since(NOW, datetime(2024, 1, 1)) is False


def test_a_no_given_before_the_batch_but_not_read_by_it_still_holds() -> None:
    """Reported late, or exported after the run: the batch's time says nothing of it."""
    denied = AS_OF - timedelta(hours=1)

    verdict = with_live_answers(SUSPICIOUS, LiveAnswers(denied_at=denied), NOW)

    assert (verdict.status, verdict.owner_since) == (Status.OWNER_CHANGED, None)


def test_a_no_the_batch_has_read_leaves_its_verdict() -> None:
    denied = AS_OF - timedelta(days=1)
    read = Verdict(
        Status.OWNER_CHANGED,
        905,
        (Evidence(Reason.OWNER_DENIED, denied), Evidence(Reason.SMS_PERMANENT_FAILURES, denied)),
        None,
    )

    assert with_live_answers(read, LiveAnswers(denied_at=denied), NOW) is read


def test_a_no_before_the_current_holders_tenure_is_the_previous_holders() -> None:
    new_holder = Verdict(
        Status.VERIFIED, 90, (Evidence(Reason.RECENT_CODE_ENTRY, CODE_AT),), datetime(2026, 2, 1)
    )
    answers = LiveAnswers(denied_at=datetime(2026, 1, 20))

    assert with_live_answers(new_holder, answers, NOW) is new_holder


def test_a_fresh_yes_makes_the_number_verified_with_the_yes_as_proof() -> None:
    confirmed = datetime(2026, 6, 2, 8)

    verdict = with_live_answers(SUSPICIOUS, LiveAnswers(confirmed_at=confirmed), NOW)

    assert verdict.status is Status.VERIFIED
    assert verdict.evidence == (Evidence(Reason.RECENT_CONFIRMATION, confirmed),)
    assert verdict.last_confirmed_at == confirmed
    assert verdict.last_proof_at == confirmed
    assert verdict.owner_since == SUSPICIOUS.owner_since
    assert 0 <= verdict.risk_score <= 299


def test_a_yes_never_raises_a_verified_numbers_risk() -> None:
    answers = LiveAnswers(confirmed_at=datetime(2026, 6, 2))

    assert with_live_answers(VERIFIED, answers, NOW).risk_score == 90


def test_a_yes_on_a_number_without_history_starts_its_holders_tenure() -> None:
    confirmed = datetime(2026, 6, 2)

    verdict = with_live_answers(NO_HISTORY_VERDICT, LiveAnswers(confirmed_at=confirmed), NOW)

    assert (verdict.status, verdict.owner_since) == (Status.VERIFIED, confirmed)


def test_a_yes_older_than_the_freshness_window_is_left_to_the_batch() -> None:
    answers = LiveAnswers(confirmed_at=NOW - timedelta(days=30, seconds=1))

    assert with_live_answers(SUSPICIOUS, answers, NOW) is SUSPICIOUS
    short = with_live_answers(
        SUSPICIOUS, LiveAnswers(confirmed_at=NOW - timedelta(days=2)), NOW, timedelta(days=1)
    )
    assert short is SUSPICIOUS


def test_the_latest_answer_decides() -> None:
    early, late = datetime(2026, 6, 2), datetime(2026, 6, 3)

    denied_last = with_live_answers(SUSPICIOUS, LiveAnswers(late, early), NOW)
    confirmed_last = with_live_answers(SUSPICIOUS, LiveAnswers(early, late), NOW)

    assert denied_last.status is Status.OWNER_CHANGED
    assert confirmed_last.status is Status.VERIFIED


def test_merging_answers_keeps_the_later_of_each_kind() -> None:
    first = LiveAnswers(denied_at=datetime(2026, 6, 2), confirmed_at=datetime(2026, 6, 3))
    second = LiveAnswers(denied_at=datetime(2026, 6, 4))

    assert first.merged(second) == LiveAnswers(datetime(2026, 6, 4), datetime(2026, 6, 3))
    assert second.merged(first) == first.merged(second)


def test_a_yes_the_batch_has_read_leaves_its_verdict_with_all_its_reasons() -> None:
    confirmed = AS_OF - timedelta(days=2)
    read = Verdict(
        Status.VERIFIED,
        40,
        (
            Evidence(Reason.RECENT_CONFIRMATION, confirmed),
            Evidence(Reason.STEADY_SMS_DELIVERY, CODE_AT),
        ),
        datetime(2025, 1, 1),
        last_confirmed_at=confirmed,
    )

    assert with_live_answers(read, LiveAnswers(confirmed_at=confirmed), NOW) is read


def test_a_yes_older_than_the_batchs_evidence_of_a_change_leaves_the_number_changed() -> None:
    changed = Verdict(
        Status.OWNER_CHANGED,
        820,
        (Evidence(Reason.NUMBER_CHANGE_REPORTED, AS_OF - timedelta(hours=1)),),
        None,
    )
    answers = LiveAnswers(confirmed_at=AS_OF - timedelta(hours=2))

    assert with_live_answers(changed, answers, NOW) is changed


def test_a_yes_after_the_batchs_evidence_of_a_change_verifies_the_number() -> None:
    changed = Verdict(
        Status.OWNER_CHANGED, 820, (Evidence(Reason.NUMBER_CHANGE_REPORTED, CODE_AT),), None
    )
    confirmed = datetime(2026, 6, 2)

    verdict = with_live_answers(changed, LiveAnswers(confirmed_at=confirmed), NOW)

    # no holder had shown since the change: the Yes is the first evidence of one
    assert (verdict.status, verdict.owner_since) == (Status.VERIFIED, confirmed)


def test_a_no_followed_by_a_code_still_holds_as_the_snapshot_cannot_tell_whose_code() -> None:
    """The batch refutes a No only by every bound account's proof; the snapshot keeps the
    latest code of any account, so the overlay keeps to the No."""
    denied = AS_OF - timedelta(days=20)
    coded = Verdict(
        Status.VERIFIED,
        90,
        (Evidence(Reason.RECENT_CODE_ENTRY, AS_OF - timedelta(days=3)),),
        datetime(2025, 1, 1),
        last_code_at=AS_OF - timedelta(days=3),
    )

    verdict = with_live_answers(coded, LiveAnswers(denied_at=denied), NOW)

    assert (verdict.status, verdict.owner_since) == (Status.OWNER_CHANGED, None)


def test_an_answer_is_matched_with_the_batchs_to_the_second() -> None:
    """The snapshot keeps whole seconds: a Yes at .25 s is the one the batch read at .0 s."""
    confirmed = AS_OF - timedelta(days=2)
    read = Verdict(
        Status.VERIFIED,
        40,
        (Evidence(Reason.RECENT_CONFIRMATION, confirmed),),
        datetime(2025, 1, 1),
        last_confirmed_at=confirmed,
    )
    answers = LiveAnswers(confirmed_at=confirmed + timedelta(milliseconds=250))

    assert with_live_answers(read, answers, NOW) is read


def test_a_no_on_a_number_the_batch_found_changed_later_keeps_the_later_change() -> None:
    changed = Verdict(
        Status.OWNER_CHANGED,
        820,
        (Evidence(Reason.PROFILE_MISMATCH, datetime(2026, 5, 20)),),
        datetime(2026, 5, 20),
    )

    verdict = with_live_answers(changed, LiveAnswers(denied_at=datetime(2026, 5, 1)), NOW)

    assert verdict.status is Status.OWNER_CHANGED
    assert verdict.owner_since == datetime(2026, 5, 20)
    assert {evidence.reason for evidence in verdict.evidence} == {
        Reason.PROFILE_MISMATCH,
        Reason.OWNER_DENIED,
    }
    assert verdict.changed_since(datetime(2026, 5, 10), datetime(2024, 1, 1)) is True


def test_a_yes_and_a_no_within_one_second_are_read_as_the_batch_reads_them() -> None:
    """The batch keeps whole seconds, and there the Yes stands: so here, or the overlay and
    the batch would disagree until the No is forgotten."""
    yes, no = datetime(2026, 6, 2, 11, 0, 0, 200_000), datetime(2026, 6, 2, 11, 0, 0, 800_000)

    verdict = with_live_answers(SUSPICIOUS, LiveAnswers(denied_at=no, confirmed_at=yes), NOW)

    assert verdict.status is Status.VERIFIED


def test_a_second_no_on_a_number_denied_before_keeps_one_denial_and_no_holder() -> None:
    first = datetime(2026, 5, 1)
    denied = Verdict(Status.OWNER_CHANGED, 870, (Evidence(Reason.OWNER_DENIED, first),), None)

    verdict = with_live_answers(denied, LiveAnswers(denied_at=datetime(2026, 5, 10)), NOW)

    assert verdict.evidence == (Evidence(Reason.OWNER_DENIED, datetime(2026, 5, 10)),)
    assert verdict.owner_since is None


def test_a_no_after_the_batchs_new_holder_showed_leaves_no_holder_known_as_the_batch_will() -> None:
    """The No is the latest change now: the batch's holder came before it, and the batch will
    know of none after it until one shows."""
    registered = datetime(2026, 5, 1)
    changed = Verdict(
        Status.OWNER_CHANGED, 820, (Evidence(Reason.PROFILE_MISMATCH, registered),), registered
    )

    verdict = with_live_answers(changed, LiveAnswers(denied_at=datetime(2026, 5, 10)), NOW)

    assert verdict.status is Status.OWNER_CHANGED
    assert verdict.owner_since is None
    assert verdict.held_since(datetime(2026, 5, 20), datetime(2024, 1, 1)) is False


def test_a_yes_before_the_batchs_first_sight_of_the_new_holder_is_their_first_evidence() -> None:
    """Reported late: the Yes came after the change and before the batch's holder evidence."""
    changed = Verdict(
        Status.OWNER_CHANGED,
        820,
        (Evidence(Reason.NUMBER_CHANGE_REPORTED, CODE_AT),),
        datetime(2026, 5, 25),
    )
    confirmed = datetime(2026, 5, 20)

    verdict = with_live_answers(changed, LiveAnswers(confirmed_at=confirmed), NOW)

    assert (verdict.status, verdict.owner_since) == (Status.VERIFIED, confirmed)
