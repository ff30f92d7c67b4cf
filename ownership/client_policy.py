"""A client's own notify policy (DESIGN §7: "defaults; each client can have its own"), read
from the plain mapping an operator's policy file holds (data/schemas/client_policy.yaml).

Rows a file does not name keep the service's actions, and a file without `freshness_days`
keeps the service's F. What a row may be set to is bounded by what the default sends it to
(`allowed_actions`), so that no client's file can undo the protection the product exists for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from ownership.policy import Action, Policy, PolicyRow

# From the least to the most careful: delivering shows the notification in the bound account,
# re-verifying asks that account's holder first, SMS never goes near the account.
CARE = (Action.DELIVER, Action.REVERIFY, Action.SMS)
# The rows whose number the batch found held by its bound account's holder (verified). Only
# there may a client take less care than the default (deliver a sensitive notification on an
# older proof rather than re-verify): that is the client's call about its own notifications.
# Everywhere else a client may only take more care: a suspicious number carries doubts about
# its tenure; an owner_changed one's bound account may be the previous holder's, so delivering
# there is the very harm the product prevents; and re-verifying needs an active account to ask,
# which unknown numbers, numbers with no account active within A, and mobile_only notifications
# without the app lack. Those rows default to sms, the most care, and so can only be sms.
VERIFIED_ROWS = frozenset({PolicyRow.VERIFIED_FRESH, PolicyRow.VERIFIED_OLDER_PROOF})
# F in whole days: at least one; at most the possession window W (90 days, DESIGN §4), past
# which a proof is no proof of possession at all
FRESHNESS_DAYS_MAX = 90
KINDS = {"regular": False, "sensitive": True}
# DESIGN §7's actions, which bound a client's (the service's F is a setting; its actions are not)
DEFAULT_ACTIONS = Policy().actions
KEYS = ("freshness_days", "rows")


class PolicyFileError(ValueError):
    """A client's policy file cannot be taken; the message says why, in one line."""


@dataclass(frozen=True)
class PolicyFile:
    """What a client's policy file changes of the service's policy, validated."""

    # F in days; None: the service's
    freshness_days: int | None
    # the actions the file names, by row and whether the notification is sensitive
    actions: Mapping[tuple[PolicyRow, bool], Action]

    def applied_to(self, default: Policy) -> Policy:
        """`default` (the service's policy) with this file's changes."""
        freshness = default.freshness
        if self.freshness_days is not None:
            freshness = timedelta(days=self.freshness_days)
        return replace(default, freshness=freshness, actions={**default.actions, **self.actions})

    def document(self) -> dict[str, object]:
        """The file as the store keeps it, read back by `read_policy_file`: rows by their
        upper-case names, actions by their lower-case ones, only what the file named."""
        document: dict[str, object] = {}
        if self.freshness_days is not None:
            document["freshness_days"] = self.freshness_days
        rows: dict[str, dict[str, str]] = {}
        for row in PolicyRow:  # in the table's order
            for kind, sensitive in KINDS.items():
                if (row, sensitive) in self.actions:
                    rows.setdefault(row.value, {})[kind] = self.actions[row, sensitive].value
        if rows:
            document["rows"] = rows
        return document


def allowed_actions(row: PolicyRow, sensitive: bool) -> tuple[Action, ...]:
    """What a client may set `row` to for a regular or sensitive notification, most daring
    first: on a verified row, any action; elsewhere, the default's or a more careful one."""
    if row in VERIFIED_ROWS:
        return CARE
    return CARE[CARE.index(DEFAULT_ACTIONS[row, sensitive]) :]


def read_policy_file(document: object) -> PolicyFile:
    """A client's policy file from the mapping it holds; raises PolicyFileError."""
    if not isinstance(document, Mapping):
        raise PolicyFileError("a policy file is a mapping with freshness_days and rows")
    unknown = [_shown(key) for key in document if key not in KEYS]
    if unknown:
        raise PolicyFileError(
            f"a policy file has only {' and '.join(KEYS)}, not {', '.join(unknown)}"
        )
    days = document.get("freshness_days")
    freshness_days = None if days is None else _freshness_days(days)
    rows = document.get("rows")
    if rows is None:
        rows = {}
    if not isinstance(rows, Mapping):
        raise PolicyFileError("rows is a mapping from a row of the policy table to its actions")
    actions: dict[tuple[PolicyRow, bool], Action] = {}
    named: set[PolicyRow] = set()
    for name, kinds in rows.items():
        row = _row(name)
        if row in named:  # `SUSPICIOUS` and `suspicious`: which one the operator meant is not known
            raise PolicyFileError(f"row {row.value} is given twice")
        named.add(row)
        if not isinstance(kinds, Mapping) or not kinds:
            raise PolicyFileError(f"row {row.value} maps regular and/or sensitive to an action")
        for kind, action_name in kinds.items():
            if kind not in KINDS:
                raise PolicyFileError(
                    f"row {row.value} takes regular and sensitive, not {_shown(kind)}"
                )
            action = _action(row, action_name)
            allowed = allowed_actions(row, KINDS[kind])
            if action not in allowed:
                raise PolicyFileError(
                    f"row {row.value} may send a {kind} notification by "
                    f"{' or '.join(a.value for a in allowed)} only, not {action.value}: "
                    + _why_not(row)
                )
            actions[row, KINDS[kind]] = action
    return PolicyFile(freshness_days, actions)


def client_policy(document: object, default: Policy) -> Policy:
    """`default` with what a client's policy file (its mapping) changes."""
    return read_policy_file(document).applied_to(default)


def _shown(value: object) -> str:
    """A value of the file as a message shows it: a text or number, shortened; of anything
    else only its kind (its whole text could be as long as the file)."""
    if isinstance(value, str | int | float | bool):
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    return f"a {type(value).__name__}"


def _freshness_days(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyFileError(f"freshness_days is a whole number of days, not {_shown(value)}")
    if not 1 <= value <= FRESHNESS_DAYS_MAX:
        raise PolicyFileError(
            f"freshness_days is 1 to {FRESHNESS_DAYS_MAX} (the possession window), not {value}"
        )
    return value


def _row(name: object) -> PolicyRow:
    try:
        if not isinstance(name, str):
            raise ValueError(name)
        return PolicyRow(name.upper())
    except ValueError:
        rows = ", ".join(row.value for row in PolicyRow)
        raise PolicyFileError(f"{_shown(name)} is no row of the policy table ({rows})") from None


def _action(row: PolicyRow, name: object) -> Action:
    try:
        if not isinstance(name, str):
            raise ValueError(name)
        return Action(name.lower())
    except ValueError:
        actions = ", ".join(action.value for action in Action)
        raise PolicyFileError(f"row {row.value}: {_shown(name)} is no action ({actions})") from None


def _why_not(row: PolicyRow) -> str:
    if row is PolicyRow.OWNER_CHANGED:
        return "the bound account may be the previous holder's"
    if row is PolicyRow.SUSPICIOUS:
        return "a client may take more care than the default on a suspicious number, not less"
    return "no active account to deliver to or to ask"
