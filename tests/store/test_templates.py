"""Templates in the store and the desk that moderates them, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from delivery.clock import VirtualClock
from delivery.templates import RecordingTemplateDecisions, TemplateDesk
from ownership.moderation import Decision, ModerationReason, ModerationRules, TemplateStatus
from pipelines.moderation_rules import load_moderation_rules
from store.clients import register_client
from store.secrets import SecretCipher
from store.templates import TemplateAlreadyDecidedError, TemplateNotFoundError, TemplateRecord
from tests.template_drafts import BIRTHDAY_OFFER, ORDER_READY

SUBMITTED_AT = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def rules() -> ModerationRules:
    return load_moderation_rules()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(SUBMITTED_AT)


@pytest.fixture
def told() -> RecordingTemplateDecisions:
    return RecordingTemplateDecisions()


@pytest.fixture
def desk(
    sessions: sessionmaker[Session],
    rules: ModerationRules,
    told: RecordingTemplateDecisions,
    clock: VirtualClock,
) -> TemplateDesk:
    return TemplateDesk(sessions, rules, told, clock)


def client(sessions: sessionmaker[Session], cipher: SecretCipher, name: str = "shop") -> str:
    with sessions.begin() as session:
        return register_client(session, name, ["203.0.113.0/24"], cipher).key


def test_a_passing_template_waits_for_a_moderator_and_no_one_is_told_yet(
    desk: TemplateDesk,
    sessions: sessionmaker[Session],
    cipher: SecretCipher,
    told: RecordingTemplateDecisions,
) -> None:
    shop = client(sessions, cipher)

    submitted = desk.submit(shop, ORDER_READY)

    assert submitted.id.startswith("tpl_") and len(submitted.id) == 20
    assert (submitted.status, submitted.reasons) == (TemplateStatus.PENDING_MODERATION, ())
    assert submitted.created_at == SUBMITTED_AT and submitted.decided_at is None
    assert desk.find(submitted.id, shop) == submitted
    assert told.decided == []


def test_a_promotional_template_is_stored_rejected_with_its_findings_and_the_client_told(
    desk: TemplateDesk,
    sessions: sessionmaker[Session],
    cipher: SecretCipher,
    told: RecordingTemplateDecisions,
) -> None:
    shop = client(sessions, cipher)

    rejected = desk.submit(shop, BIRTHDAY_OFFER)

    assert rejected.status is TemplateStatus.REJECTED
    assert {f.reason for f in rejected.reasons} == {ModerationReason.PROMOTIONAL}
    assert "BIRTHDAY_OFFER" in {f.rule for f in rejected.reasons}
    assert (rejected.decided_by, rejected.decided_at) == ("moderation", SUBMITTED_AT)
    assert desk.find(rejected.id) == rejected  # the findings survive the round trip
    assert told.decided == [rejected]


def test_a_client_finds_only_its_own_templates(
    desk: TemplateDesk, sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    shop, bank = client(sessions, cipher, "shop"), client(sessions, cipher, "bank")
    template = desk.submit(shop, ORDER_READY)

    assert desk.find(template.id, bank) is None
    assert desk.find("tpl_0000000000000000", shop) is None


def test_a_moderator_approves_once_and_the_client_is_told_in_the_same_transaction(
    desk: TemplateDesk,
    sessions: sessionmaker[Session],
    cipher: SecretCipher,
    told: RecordingTemplateDecisions,
    clock: VirtualClock,
) -> None:
    template = desk.submit(client(sessions, cipher), ORDER_READY)
    clock.advance(timedelta(hours=2))

    approved = desk.decide(template.id, Decision.APPROVE, note="ok", by="cli:olga")

    assert approved.approved and approved.reasons == ()
    assert (approved.decided_at, approved.decided_by, approved.note) == (
        SUBMITTED_AT + timedelta(hours=2),
        "cli:olga",
        "ok",
    )
    assert told.decided == [approved]
    with pytest.raises(TemplateAlreadyDecidedError, match="already approved"):
        desk.decide(template.id, Decision.REJECT, note="late", by="cli:ivan")
    assert desk.find(template.id) == approved


def test_a_moderators_rejection_is_a_reason_with_the_note(
    desk: TemplateDesk, sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    template = desk.submit(client(sessions, cipher), ORDER_READY)

    rejected = desk.decide(template.id, Decision.REJECT, note="tail misleads", by="admin")

    assert rejected.status is TemplateStatus.REJECTED
    assert [(f.reason, f.explanation) for f in rejected.reasons] == [
        (ModerationReason.MODERATOR_REJECTED, "tail misleads")
    ]


def test_of_two_moderators_deciding_at_once_exactly_one_wins(
    desk: TemplateDesk,
    sessions: sessionmaker[Session],
    cipher: SecretCipher,
    told: RecordingTemplateDecisions,
) -> None:
    template = desk.submit(client(sessions, cipher), ORDER_READY)
    start = threading.Barrier(2)

    def decide(decision: Decision) -> str:
        start.wait()
        try:
            return str(desk.decide(template.id, decision, note="n", by=str(decision)).status)
        except TemplateAlreadyDecidedError:
            return "refused"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(decide, [Decision.APPROVE, Decision.REJECT]))

    assert outcomes in (["approved", "refused"], ["refused", "rejected"])
    assert len(told.decided) == 1


def test_deciding_an_unknown_template_is_not_found(desk: TemplateDesk) -> None:
    with pytest.raises(TemplateNotFoundError):
        desk.decide("tpl_0000000000000000", Decision.APPROVE, note=None, by="admin")


def test_a_decision_whose_notice_fails_is_rolled_back(
    sessions: sessionmaker[Session], rules: ModerationRules, cipher: SecretCipher
) -> None:
    class FailingDecisions:
        def template_decided(self, session: Session, template: TemplateRecord) -> None:
            raise RuntimeError("the outbox is gone")

    desk = TemplateDesk(sessions, rules, FailingDecisions())
    template = desk.submit(client(sessions, cipher), ORDER_READY)

    with pytest.raises(RuntimeError):
        desk.decide(template.id, Decision.APPROVE, note=None, by="admin")

    assert desk.find(template.id) == template


def test_the_moderators_queue_is_the_waiting_templates_oldest_first(
    desk: TemplateDesk, sessions: sessionmaker[Session], cipher: SecretCipher, clock: VirtualClock
) -> None:
    shop = client(sessions, cipher)
    first = desk.submit(shop, ORDER_READY)
    clock.advance(timedelta(minutes=1))
    desk.submit(shop, BIRTHDAY_OFFER)
    clock.advance(timedelta(minutes=1))
    second = desk.submit(shop, ORDER_READY)

    assert [t.id for t in desk.list(TemplateStatus.PENDING_MODERATION)] == [first.id, second.id]
    assert len(desk.list()) == 3
