"""A client's own notify policy as the API applies it: the action /v1/check and
/v1/check/bulk answer, and the decision /v1/notify takes, by the authenticated client's policy;
every other client keeps the service's."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from delivery import records
from ownership.client_policy import read_policy_file
from store.client_policy import set_notify_policy
from store.clients import register_client
from store.database import session_factory
from tests.api.conftest import Served, served_history
from tests.api.service import NOW, SUSPICIOUS, VERIFIED_FRESH, Caller

SUSPICIOUS_BY_SMS = read_policy_file({"rows": {"SUSPICIOUS": {"regular": "sms"}}}).document()
ACTION = {"type": "order", "at": NOW.isoformat() + "Z"}


def notification(request_id: str, phone: str) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "phone": phone,
        "template_id": "tpl_order",
        "params": {"order": "A-17"},
        "action": ACTION,
    }


def careful_client(served: Served) -> Caller:
    """A second client on loopback whose policy sends suspicious numbers by SMS, set before
    its first call."""
    with session_factory(served.engine).begin() as session:
        issued = register_client(session, "careful", ["127.0.0.0/8"], served.cipher)
        set_notify_policy(session, "careful", SUSPICIOUS_BY_SMS)
    return Caller(served.caller.url, issued.key, issued.secret)


def test_a_client_whose_policy_sends_suspicious_numbers_by_sms_is_answered_sms(
    tmp_path: Path,
) -> None:
    for served in served_history(tmp_path):
        careful, bank = careful_client(served), served.caller

        checked = {
            name: caller.post("/v1/check", {"phone": SUSPICIOUS}).json()
            for name, caller in (("careful", careful), ("bank", bank))
        }
        bulk = careful.post("/v1/check/bulk", {"phones": [SUSPICIOUS, VERIFIED_FRESH]}).json()
        sent = careful.post("/v1/notify", notification("careful-1", SUSPICIOUS))
        sent_by_bank = bank.post("/v1/notify", notification("bank-1", SUSPICIOUS))

    assert (checked["careful"]["action"], checked["careful"]["policy_case"]) == (
        "sms",
        "SUSPICIOUS",
    )
    assert checked["bank"]["action"] == "deliver"
    assert [item["action"] for item in bulk["results"]] == ["sms", "deliver"]
    assert sent.status_code == 202 and sent.json()["action"] == "sms"
    assert sent_by_bank.status_code == 202 and sent_by_bank.json()["action"] == "deliver"


def test_a_client_given_the_default_back_is_answered_by_the_services_policy(
    tmp_path: Path,
) -> None:
    for served in served_history(tmp_path):
        careful = careful_client(served)
        with session_factory(served.engine).begin() as session:  # before its first call
            set_notify_policy(session, "careful", None)

        checked = careful.post("/v1/check", {"phone": SUSPICIOUS}).json()

    assert checked["action"] == "deliver"


def test_a_yes_counts_for_the_services_freshness_whatever_the_clients(tmp_path: Path) -> None:
    """A client's freshness says which proofs of a verified number are fresh; it does not make
    an old Yes turn a suspicious number verified."""
    yes_at = NOW - timedelta(days=40)  # past the service's 30 days, within the client's 90
    for served in served_history(tmp_path, overlay_every=0.0):
        with session_factory(served.engine).begin() as session:
            issued = register_client(session, "patient", ["127.0.0.0/8"], served.cipher)
            set_notify_policy(session, "patient", {"freshness_days": 90})
        with served.engine.begin() as connection:
            records.record_verification(
                connection,
                SUSPICIOUS,
                yes_at.replace(tzinfo=UTC),
                "prompt",
                "confirmed",
                "vk:1",
                None,
            )
        patient = Caller(served.caller.url, issued.key, issued.secret)

        single = patient.post("/v1/check", {"phone": SUSPICIOUS, "sensitive": True}).json()
        bulk = patient.post("/v1/check/bulk", {"phones": [SUSPICIOUS], "sensitive": True}).json()

    assert (single["status"], single["action"]) == ("suspicious", "reverify")
    assert [(item["status"], item["action"]) for item in bulk["results"]] == [
        ("suspicious", "reverify")
    ]
