"""What the notify path learnt of a number since the batch ran, and how it changes the verdict.

A person's own answer to "is this your number?" outweighs the batch's reading of the history:
a No makes the number owner_changed at once, for every check and notification, and a Yes keeps
it verified and fresh for F (DESIGN §7). The next batch reads the same answers as
`verifications` events, so the overlay only bridges the time until its verdict shows them.

Times are naive UTC, as in `Verdict`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from ownership.notifications import FRESHNESS, Freshness
from ownership.verdicts import Evidence, Reason, Status, Verdict

# what the batch gives a denial of the day alone (700 + 120 + 50): a live denial is as risky
OWNER_DENIED_RISK = 870
# what the batch gives a proof of the day with no steady SMS and no matching profiles behind it
CONFIRMED_RISK = 149


@dataclass(frozen=True)
class LiveAnswers:
    """The latest No and the latest Yes the number's person gave, if any."""

    denied_at: datetime | None = None
    confirmed_at: datetime | None = None

    def merged(self, newer: LiveAnswers) -> LiveAnswers:
        """Both sets of answers, keeping the later of each kind."""
        return LiveAnswers(
            _later(self.denied_at, newer.denied_at), _later(self.confirmed_at, newer.confirmed_at)
        )


def _later(first: datetime | None, second: datetime | None) -> datetime | None:
    if first is None or second is None:
        return first or second
    return max(first, second)


def with_live_answers(
    verdict: Verdict,
    answers: LiveAnswers | None,
    now: datetime,
    freshness: timedelta = FRESHNESS,
) -> Verdict:
    """`verdict` (the batch's) with the person's answers on top.

    Whether the batch read an answer is told by its verdict, not by its time: an answer given
    before the batch's as_of may reach it only later (reported late, exported the next night).
    - The latest answer is a No: owner_changed by the No, the only moment by which the number
      is known to have changed hands, with no holder known since (no owner_since), as the
      batch will have it. Unless the batch read it (its verdict names that No) or knows of a
      holder who came after it (its tenure began later). A possession proof after the No does
      not outweigh it here, nor start a holder's owner_since: the snapshot does not tell whose
      it was, and the batch refutes a No only by every bound account's proof.
    - The latest answer is a Yes still within `freshness`: verified, with the Yes as the proof
      and, when the batch knows of no holder before it since the change, the Yes as the
      holder's first evidence. Unless the batch read it (its last confirmation is that Yes,
      and its verdict keeps its other reasons) or has evidence of a change after it.
    """
    if answers is None:
        return verdict
    # to the second, as the batch reads answers (a Yes and a No in one second: the Yes, there
    # as here) and as the snapshot keeps its times
    denied, confirmed = _to_second(answers.denied_at), _to_second(answers.confirmed_at)
    if denied is not None and (confirmed is None or denied > confirmed):
        if _read_denial(verdict, denied) or _tenure_began_after(verdict, denied):
            return verdict
        if verdict.status is Status.OWNER_CHANGED:
            # the number had changed hands already: the batch's evidence stays, with this No as
            # its latest denial, and so does its holder if the batch saw them after the No
            others = tuple(e for e in verdict.evidence if e.reason is not Reason.OWNER_DENIED)
            return replace(
                verdict,
                risk_score=max(OWNER_DENIED_RISK, verdict.risk_score),
                evidence=(*others, Evidence(Reason.OWNER_DENIED, denied)),
                owner_since=_holder_after(verdict, denied),
            )
        # the No tells who no longer holds the number, not who does
        return Verdict(
            Status.OWNER_CHANGED,
            OWNER_DENIED_RISK,
            (Evidence(Reason.OWNER_DENIED, denied),),
            owner_since=None,
        )
    if confirmed is not None and Freshness(confirmed, freshness).is_fresh(now):
        read = verdict.last_confirmed_at is not None and verdict.last_confirmed_at >= confirmed
        if read or _tenure_began_after(verdict, confirmed) or _changed_after(verdict, confirmed):
            return verdict
        risk = CONFIRMED_RISK
        if verdict.status is Status.VERIFIED:
            risk = min(risk, verdict.risk_score)
        return replace(
            verdict,
            status=Status.VERIFIED,
            risk_score=risk,
            evidence=(Evidence(Reason.RECENT_CONFIRMATION, confirmed),),
            owner_since=_earlier(verdict.owner_since, confirmed),
            last_confirmed_at=_later(verdict.last_confirmed_at, confirmed),
        )
    return verdict


def _earlier(first: datetime | None, second: datetime) -> datetime:
    return second if first is None else min(first, second)


def _holder_after(verdict: Verdict, denied: datetime) -> datetime | None:
    """The batch's holder if it first showed after the No: the No was the previous holder's."""
    if verdict.owner_since is not None and verdict.owner_since > denied:
        return verdict.owner_since
    return None


def _to_second(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(microsecond=0)


def _read_denial(verdict: Verdict, denied: datetime) -> bool:
    return verdict.status is Status.OWNER_CHANGED and any(
        evidence.reason is Reason.OWNER_DENIED and evidence.at is not None and evidence.at >= denied
        for evidence in verdict.evidence
    )


def _tenure_began_after(verdict: Verdict, answered: datetime) -> bool:
    """The batch knows a holder whose tenure began after the answer: it was the previous
    holder's, and says nothing of the number now."""
    return (
        verdict.status is not Status.OWNER_CHANGED
        and verdict.owner_since is not None
        and verdict.owner_since > answered
    )


def _changed_after(verdict: Verdict, answered: datetime) -> bool:
    return verdict.status is Status.OWNER_CHANGED and any(
        evidence.at is not None and evidence.at > answered for evidence in verdict.evidence
    )
