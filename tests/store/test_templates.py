"""Templates in the store and the desk that moderates them, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.template_schemas import TemplatePublic
from delivery.clock import VirtualClock
from delivery.ports import TemplateProblemError
from delivery.templates import (
    ApprovedTemplates,
    OutboxTemplateDecisions,
    RecordingTemplateDecisions,
    TemplateDesk,
)
from ownership.moderation import Decision, ModerationReason, ModerationRules, TemplateStatus
from pipelines.moderation_rules import load_moderation_rules
from store.clients import register_client
from store.secrets import SecretCipher
from store.tables_webhooks import WebhookDeliveryRow
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


def client(
    sessions: sessionmaker[Session],
    cipher: SecretCipher,
    name: str = "shop",
    webhook_url: str | None = None,
) -> str:
    with sessions.begin() as session:
        return register_client(
            session, name, ["203.0.113.0/24"], cipher, webhook_url=webhook_url
        ).key


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

    queue = desk.list(TemplateStatus.PENDING_MODERATION)
    assert ([t.id for t in queue.records], queue.more) == ([first.id, second.id], False)
    assert len(desk.list().records) == 3


def test_the_queue_comes_in_pages_and_says_when_more_follow(
    desk: TemplateDesk, sessions: sessionmaker[Session], cipher: SecretCipher, clock: VirtualClock
) -> None:
    shop = client(sessions, cipher)
    waiting = []
    for _ in range(5):
        waiting.append(desk.submit(shop, ORDER_READY).id)
        desk.submit(shop, BIRTHDAY_OFFER)  # rejected at once: never in the queue
        clock.advance(timedelta(minutes=1))
    same_moment = [desk.submit(shop, ORDER_READY).id for _ in range(3)]  # ordered by id
    waiting += sorted(same_moment)

    seen, after, pages = [], None, 0
    while True:
        page = desk.list(TemplateStatus.PENDING_MODERATION, limit=3, after=after)
        seen += [t.id for t in page.records]
        pages += 1
        if not page.more:
            break
        after = page.next_after
    assert (seen, pages) == (waiting, 3)

    # a decision between pages moves nothing past the moderator
    first_page = desk.list(TemplateStatus.PENDING_MODERATION, limit=2)
    desk.decide(first_page.records[0].id, Decision.APPROVE, note=None, by="admin")
    rest = desk.list(TemplateStatus.PENDING_MODERATION, limit=100, after=first_page.next_after)
    assert [t.id for t in rest.records] == waiting[2:]


def test_a_page_has_bounds_and_an_unknown_template_to_list_after_is_not_found(
    desk: TemplateDesk,
) -> None:
    with pytest.raises(TemplateNotFoundError):
        desk.list(after="tpl_0000000000000000")
    for limit in (0, 1_001):
        with pytest.raises(ValueError, match="1 to 1000"):
            desk.list(limit=limit)


SHOP_HOOKS = "https://shop.example/hooks"
PROMOTIONAL_PARAM = "Скидка 50% на всё! Купите сейчас"


def approved(desk: TemplateDesk, shop: str) -> TemplateRecord:
    template = desk.submit(shop, ORDER_READY)
    return desk.decide(template.id, Decision.APPROVE, note=None, by="admin")


def test_a_notification_fills_an_approved_template_with_honest_params(
    desk: TemplateDesk, sessions: sessionmaker[Session], cipher: SecretCipher
) -> None:
    shop = client(sessions, cipher)
    template = approved(desk, shop)

    message = ApprovedTemplates(desk).message(shop, template.id, {"order": "A-17"})

    assert message == "Ваш заказ A-17 готов к выдаче"


@pytest.mark.parametrize(
    ("order", "code", "said"),
    [
        ("Z" * 500, "MESSAGE_TOO_LONG", "SMS parts, at most 6"),
        ("Я" * 4_100, "MESSAGE_TOO_LONG", "at most 4096 in VK and OK"),
        (PROMOTIONAL_PARAM, "PROMOTIONAL_PARAMS", "a discount offered"),
        ("Ски\u200bдка", "PROMOTIONAL_PARAMS", "«Скидка»"),
    ],
)
def test_params_that_break_the_moderations_rules_are_refused_with_their_own_code(
    desk: TemplateDesk,
    sessions: sessionmaker[Session],
    cipher: SecretCipher,
    order: str,
    code: str,
    said: str,
) -> None:
    shop = client(sessions, cipher)
    template = approved(desk, shop)

    with pytest.raises(TemplateProblemError, match=said) as refused:
        ApprovedTemplates(desk).message(shop, template.id, {"order": order})

    assert refused.value.problem == code


def test_the_template_status_webhook_carries_what_the_get_route_answers_and_when(
    sessions: sessionmaker[Session], rules: ModerationRules, cipher: SecretCipher
) -> None:
    desk = TemplateDesk(sessions, rules, OutboxTemplateDecisions(), VirtualClock(SUBMITTED_AT))
    shop = client(sessions, cipher, webhook_url=SHOP_HOOKS)
    template = desk.submit(shop, ORDER_READY)

    rejected = desk.decide(template.id, Decision.REJECT, note="tail misleads", by="admin")

    with sessions() as session:
        (payload,) = session.scalars(select(WebhookDeliveryRow.payload)).all()
    public = TemplatePublic.of(rejected).model_dump(mode="json")
    assert payload == public | {"template_id": rejected.id, "at": "2026-11-27T09:00:00Z"}
    assert payload["note"] == "tail misleads"
    assert [(r["code"], r["explanation"]) for r in payload["reasons"]] == [
        ("MODERATOR_REJECTED", "tail misleads")
    ]
