"""A client's own notify policy read from its file's mapping: rows it names changed, the others
the service's, and every file that would undo the product's protection refused in one line."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ownership.client_policy import (
    PolicyFileError,
    allowed_actions,
    client_policy,
    read_policy_file,
)
from ownership.policy import Action, Policy, PolicyRow

SERVICE = Policy(freshness=timedelta(days=30))
SUSPICIOUS_BY_SMS = {"rows": {"SUSPICIOUS": {"regular": "sms", "sensitive": "sms"}}}
OLDER_PROOF_DELIVERED = {
    "freshness_days": 14,
    "rows": {"verified_older_proof": {"sensitive": "deliver"}},
}


def test_a_row_the_file_names_changes_and_every_other_keeps_the_default() -> None:
    policy = client_policy(SUSPICIOUS_BY_SMS, SERVICE)

    changed = {key for key in SERVICE.actions if policy.actions[key] != SERVICE.actions[key]}
    assert changed == {(PolicyRow.SUSPICIOUS, False), (PolicyRow.SUSPICIOUS, True)}
    assert policy.actions[PolicyRow.SUSPICIOUS, False] is Action.SMS
    assert policy.freshness == SERVICE.freshness


def test_a_verified_row_may_take_less_care_than_the_default_and_freshness_be_set() -> None:
    policy = client_policy(OLDER_PROOF_DELIVERED, SERVICE)

    assert policy.actions[PolicyRow.VERIFIED_OLDER_PROOF, True] is Action.DELIVER
    assert policy.freshness == timedelta(days=14)


def test_an_empty_file_is_the_default_and_a_files_document_reads_back_as_it() -> None:
    assert client_policy({}, SERVICE) == SERVICE
    read = read_policy_file(OLDER_PROOF_DELIVERED)

    document = read.document()

    assert document == {
        "freshness_days": 14,
        "rows": {"VERIFIED_OLDER_PROOF": {"sensitive": "deliver"}},
    }
    assert read_policy_file(document) == read
    assert read_policy_file({}).document() == {}


def test_a_file_naming_the_default_freshness_keeps_it_when_the_service_changes_its_own() -> None:
    read = read_policy_file({"freshness_days": 30})

    assert read.applied_to(Policy(freshness=timedelta(days=20))).freshness == timedelta(days=30)


@pytest.mark.parametrize(
    ("row", "sensitive", "allowed"),
    [
        (PolicyRow.VERIFIED_FRESH, True, ("deliver", "reverify", "sms")),
        (PolicyRow.VERIFIED_OLDER_PROOF, True, ("deliver", "reverify", "sms")),
        (PolicyRow.SUSPICIOUS, False, ("deliver", "reverify", "sms")),
        (PolicyRow.SUSPICIOUS, True, ("reverify", "sms")),
        (PolicyRow.OWNER_CHANGED, False, ("sms",)),
        (PolicyRow.UNKNOWN, True, ("sms",)),
        (PolicyRow.NO_ACTIVE_ACCOUNT, False, ("sms",)),
        (PolicyRow.NO_MOBILE_APP, True, ("sms",)),
    ],
)
def test_what_each_row_may_be_set_to(
    row: PolicyRow, sensitive: bool, allowed: tuple[str, ...]
) -> None:
    assert tuple(action.value for action in allowed_actions(row, sensitive)) == allowed


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ({"rows": {"OWNER_CHANGED": {"regular": "deliver"}}}, "by sms only, not deliver"),
        ({"rows": {"UNKNOWN": {"sensitive": "reverify"}}}, "by sms only, not reverify"),
        ({"rows": {"NO_ACTIVE_ACCOUNT": {"regular": "reverify"}}}, "no active account"),
        ({"rows": {"NO_MOBILE_APP": {"regular": "deliver"}}}, "by sms only"),
        ({"rows": {"SUSPICIOUS": {"sensitive": "deliver"}}}, "by reverify or sms only"),
        ({"rows": {"RECYCLED": {"regular": "sms"}}}, "'RECYCLED' is no row"),
        ({"rows": {"SUSPICIOUS": {"regular": "email"}}}, "'email' is no action"),
        ({"rows": {"SUSPICIOUS": {"urgent": "sms"}}}, "not 'urgent'"),
        ({"rows": {"SUSPICIOUS": "sms"}}, "maps regular and/or sensitive"),
        ({"rows": ["SUSPICIOUS"]}, "rows is a mapping"),
        ({"freshness_days": 0}, "1 to 90"),
        ({"freshness_days": 91}, "1 to 90"),
        ({"freshness_days": "30"}, "whole number of days"),
        ({"freshness_days": 7.5}, "whole number of days"),
        ({"freshness_days": True}, "whole number of days"),
        ({"freshnes_days": 30}, "not 'freshnes_days'"),
        (["SUSPICIOUS"], "a policy file is a mapping"),
        ({"rows": False}, "rows is a mapping"),
        ({"rows": {"SUSPICIOUS": {"regular": "sms"}, "suspicious": {}}}, "given twice"),
        ({"freshness_days": [["x"] * 9] * 9}, "not a list"),
        ({"rows": {"SUSPICIOUS": {"regular": "x" * 1000}}}, "'" + "x" * 36 + "... is no action"),
    ],
)
def test_a_file_that_would_undo_the_protection_or_is_malformed_is_refused_in_one_line(
    document: Any, complaint: str
) -> None:
    with pytest.raises(PolicyFileError) as refused:
        client_policy(document, SERVICE)

    assert complaint in str(refused.value) and "\n" not in str(refused.value)
