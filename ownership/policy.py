"""The notify policy (DESIGN §7): deliver in the social network, re-verify first, or send SMS.

The policy reads a verdict, the number's channels and the notification's flags; it decides an
action and names the row of the policy table that decided it, so that every answer carries
its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from ownership.channels import ChannelState
from ownership.verdicts import Status, Verdict


class Action(StrEnum):
    DELIVER = "deliver"
    REVERIFY = "reverify"
    SMS = "sms"


class PolicyRow(StrEnum):
    """The rows of the policy table; each names the case that decided an action."""

    # verified, and the current holder proved possession within the freshness window F.
    VERIFIED_FRESH = "VERIFIED_FRESH"
    # verified on an older proof (within W, not within F).
    VERIFIED_OLDER_PROOF = "VERIFIED_OLDER_PROOF"
    # suspicious: doubts about the tenure, no evidence of a change.
    SUSPICIOUS = "SUSPICIOUS"
    # owner_changed: the bound account may belong to the previous holder.
    OWNER_CHANGED = "OWNER_CHANGED"
    # unknown: no usable history for the number.
    UNKNOWN = "UNKNOWN"
    # no account bound to the number was active within the activity window A.
    NO_ACTIVE_ACCOUNT = "NO_ACTIVE_ACCOUNT"
    # the notification asks for the mobile app and no active account uses it.
    NO_MOBILE_APP = "NO_MOBILE_APP"


def _default_actions() -> dict[tuple[PolicyRow, bool], Action]:
    actions = {(row, sensitive): Action.SMS for row in PolicyRow for sensitive in (False, True)}
    actions[PolicyRow.VERIFIED_FRESH, False] = Action.DELIVER
    actions[PolicyRow.VERIFIED_FRESH, True] = Action.DELIVER
    actions[PolicyRow.VERIFIED_OLDER_PROOF, False] = Action.DELIVER
    actions[PolicyRow.VERIFIED_OLDER_PROOF, True] = Action.REVERIFY
    actions[PolicyRow.SUSPICIOUS, False] = Action.DELIVER
    actions[PolicyRow.SUSPICIOUS, True] = Action.REVERIFY
    return actions


@dataclass(frozen=True)
class Policy:
    """The policy table: an action for each row, for regular and for sensitive notifications.

    The defaults are DESIGN §7's; a client may have its own table.
    """

    freshness: timedelta = timedelta(days=30)
    actions: Mapping[tuple[PolicyRow, bool], Action] = field(default_factory=_default_actions)
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # hashable despite its mapping, so decisions can be cached per policy
        object.__setattr__(self, "_hash", hash((self.freshness, frozenset(self.actions.items()))))

    def __hash__(self) -> int:
        return self._hash


@dataclass(frozen=True)
class Decision:
    action: Action
    row: PolicyRow


def policy_row(
    verdict: Verdict,
    channels: tuple[ChannelState, ...],
    *,
    mobile_only: bool,
    now: datetime,
    freshness: timedelta,
) -> PolicyRow:
    """The row of the policy table that a number falls in. A changed owner is checked first."""
    if verdict.status is Status.OWNER_CHANGED:
        return PolicyRow.OWNER_CHANGED
    if verdict.status is Status.UNKNOWN:
        return PolicyRow.UNKNOWN
    active = [channel for channel in channels if channel.active]
    if not active:
        return PolicyRow.NO_ACTIVE_ACCOUNT
    if mobile_only and not any(channel.mobile_app for channel in active):
        return PolicyRow.NO_MOBILE_APP
    if verdict.status is Status.SUSPICIOUS:
        return PolicyRow.SUSPICIOUS
    proof = verdict.last_proof_at
    if proof is not None and proof >= now - freshness:
        return PolicyRow.VERIFIED_FRESH
    return PolicyRow.VERIFIED_OLDER_PROOF


def decide(
    verdict: Verdict,
    channels: tuple[ChannelState, ...],
    *,
    sensitive: bool,
    mobile_only: bool,
    now: datetime,
    policy: Policy,
) -> Decision:
    """What to do with a notification to this number under `policy`."""
    row = policy_row(
        verdict, channels, mobile_only=mobile_only, now=now, freshness=policy.freshness
    )
    return Decision(policy.actions[row, sensitive], row)
