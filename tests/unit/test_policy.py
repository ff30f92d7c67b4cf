"""The notify policy: every row of the DESIGN §7 table, regular and sensitive."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from ownership.channels import Channel, ChannelState
from ownership.policy import Action, Policy, PolicyRow, decide
from ownership.verdicts import Status, Verdict

NOW = datetime(2026, 6, 1, 12, 0)
VK_MOBILE = ChannelState(Channel.VK, active=True, mobile_app=True)
OK_WEB = ChannelState(Channel.OK, active=True, mobile_app=False)
VK_ASLEEP = ChannelState(Channel.VK, active=False, mobile_app=True)


def verdict(status: Status, proof_days_ago: float | None = None) -> Verdict:
    proof = None if proof_days_ago is None else NOW - timedelta(days=proof_days_ago)
    return Verdict(status, 100, (), datetime(2025, 1, 1), last_code_at=proof)


@pytest.mark.parametrize(
    ("number", "channels", "regular", "sensitive", "row"),
    [
        (verdict(Status.VERIFIED, 3), (VK_MOBILE,), "deliver", "deliver", "VERIFIED_FRESH"),
        (verdict(Status.VERIFIED, 60), (VK_MOBILE,), "deliver", "reverify", "VERIFIED_OLDER_PROOF"),
        (verdict(Status.SUSPICIOUS, 200), (OK_WEB,), "deliver", "reverify", "SUSPICIOUS"),
        (verdict(Status.OWNER_CHANGED), (VK_MOBILE,), "sms", "sms", "OWNER_CHANGED"),
        (verdict(Status.UNKNOWN), (VK_MOBILE,), "sms", "sms", "UNKNOWN"),
        (verdict(Status.VERIFIED, 3), (VK_ASLEEP,), "sms", "sms", "NO_ACTIVE_ACCOUNT"),
        (verdict(Status.VERIFIED, 3), (), "sms", "sms", "NO_ACTIVE_ACCOUNT"),
    ],
)
def test_each_row_of_the_policy_table(
    number: Verdict, channels: tuple[ChannelState, ...], regular: str, sensitive: str, row: str
) -> None:
    for flag, expected in ((False, regular), (True, sensitive)):
        decision = decide(
            number, channels, sensitive=flag, mobile_only=False, now=NOW, policy=Policy()
        )
        assert (decision.action.value, decision.row.value) == (expected, row)


def test_mobile_only_needs_an_active_account_with_the_app() -> None:
    def action(channels: tuple[ChannelState, ...]) -> Action:
        return decide(
            verdict(Status.VERIFIED, 3),
            channels,
            sensitive=False,
            mobile_only=True,
            now=NOW,
            policy=Policy(),
        ).action

    assert action((OK_WEB,)) is Action.SMS
    assert action((OK_WEB, VK_ASLEEP)) is Action.SMS  # the app is there, asleep
    assert action((OK_WEB, VK_MOBILE)) is Action.DELIVER


def test_a_confirmation_counts_as_a_fresh_proof() -> None:
    confirmed = Verdict(
        Status.VERIFIED, 20, (), datetime(2025, 1, 1), last_confirmed_at=NOW - timedelta(days=2)
    )

    decision = decide(
        confirmed, (VK_MOBILE,), sensitive=True, mobile_only=False, now=NOW, policy=Policy()
    )

    assert decision.row is PolicyRow.VERIFIED_FRESH


def test_a_client_may_have_a_stricter_table() -> None:
    strict = Policy(
        actions={**Policy().actions, (PolicyRow.SUSPICIOUS, False): Action.REVERIFY},
    )

    decision = decide(
        verdict(Status.SUSPICIOUS, 200),
        (VK_MOBILE,),
        sensitive=False,
        mobile_only=False,
        now=NOW,
        policy=strict,
    )

    assert decision.action is Action.REVERIFY
