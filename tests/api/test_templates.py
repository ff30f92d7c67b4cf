"""Templates over HTTP, signed like any client, and a moderator deciding them with the admin
token: on SQLite and PostgreSQL, with the client told through a recording port."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.fernet import Fernet
from requests_oauthlib import OAuth1
from sqlalchemy import Engine

from api.app import create_app
from api.auth import Authenticator
from api.serving import SnapshotSource
from delivery.clock import VirtualClock
from delivery.notify import NotifyService
from delivery.templates import ApprovedTemplates, RecordingTemplateDecisions, TemplateDesk
from ownership.channels import Channel
from ownership.policy import Policy
from pipelines.moderation_rules import load_moderation_rules
from pipelines.reference import load_countries, load_prices
from pipelines.settings import load_settings
from store.clients import SqlClientStore, register_client
from store.database import session_factory
from store.secrets import SecretCipher
from tests.api.service import NOW, VERIFIED_FRESH, Caller, crafted_history, score_history, serving
from tests.delivery.fakes import RecordingSms, RecordingSocial
from tests.template_drafts import BIRTHDAY_OFFER_BODY, ORDER_READY_BODY

ADMIN_TOKEN = "moderators-only-0123456789abcdef-xyz"
SUBMITTED_AT = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


class SignedCaller(Caller):
    def get(self, path: str, **kwargs: Any) -> requests.Response:
        auth = OAuth1(self.key, self.secret, signature_method="HMAC-SHA256")
        return requests.get(f"{self.url}{path}", auth=auth, timeout=30, **kwargs)


@dataclass
class Service:
    shop: SignedCaller
    bank: SignedCaller
    told: RecordingTemplateDecisions

    def admin(
        self,
        method: str,
        path: str,
        token: str | None = ADMIN_TOKEN,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> Any:
        headers = ({"Authorization": f"Bearer {token}"} if token else {}) | (headers or {})
        return requests.request(method, f"{self.shop.url}{path}", headers=headers, timeout=30, **kw)

    def decide(self, template_id: str, **body: Any) -> requests.Response:
        path = f"/v1/admin/message_template/{template_id}/decision"
        return self.admin("POST", path, json=body)  # type: ignore[no-any-return]


def serve(
    database_url: str,
    engine: Engine,
    folder: Path,
    admin_token: str | None,
    notifying: bool = False,
) -> Iterator[Service]:
    """The template routes on the store; `notifying`: `/v1/notify` too, on the desk's approved
    templates and the scores in `folder`."""
    sessions = session_factory(engine)
    cipher = SecretCipher([Fernet.generate_key().decode()])
    with sessions.begin() as session:
        shop = register_client(session, "shop", ["127.0.0.0/8"], cipher)
        bank = register_client(session, "bank", ["127.0.0.0/8"], cipher)
    told = RecordingTemplateDecisions()
    desk = TemplateDesk(sessions, load_moderation_rules(), told, VirtualClock(SUBMITTED_AT))
    snapshots = SnapshotSource(folder / "snapshot.bin")
    notify = None
    if notifying:
        notify = NotifyService(
            engine,
            VirtualClock(NOW.replace(tzinfo=UTC)),
            snapshots.current,
            {Channel.VK: RecordingSocial(Channel.VK), Channel.OK: RecordingSocial(Channel.OK)},
            RecordingSms(),
            ApprovedTemplates(desk),
            load_countries(),
            load_prices(),
            Policy(),
        )
    app = create_app(
        load_settings(scores_dir=folder, database_url=database_url, admin_token=admin_token),
        snapshots=snapshots,
        authenticator=Authenticator(SqlClientStore(engine, cipher)),
        clock=lambda: NOW,
        notify_service=notify,
        template_desk=desk,
    )
    with serving(app) as base:
        yield Service(
            SignedCaller(base, shop.key, shop.secret),
            SignedCaller(base, bank.key, bank.secret),
            told,
        )


@pytest.fixture
def service(database_url: str, engine: Engine, tmp_path: Path) -> Iterator[Service]:
    yield from serve(database_url, engine, tmp_path, ADMIN_TOKEN)


def submit(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    response = caller.post("/v1/message_template", body)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/message_template/{response.json()['id']}"
    answer: dict[str, Any] = response.json()
    return answer


def test_a_template_is_submitted_approved_by_a_moderator_and_the_client_told(
    service: Service,
) -> None:
    submitted = submit(service.shop, ORDER_READY_BODY)
    assert (submitted["status"], submitted["reasons"]) == ("pending_moderation", [])
    assert submitted["samples"] == {"order": ["123-456", "1234567890-AB"]}
    assert submitted["created_at"] == "2026-11-27T09:00:00Z"

    queue = service.admin("GET", "/v1/admin/message_template")
    # the moderator sees which client submitted it; the client's own view does not say
    assert [(t["id"], t["client"]) for t in queue.json()] == [(submitted["id"], "shop")]
    assert "client" not in submitted

    decided = service.decide(submitted["id"], decision="approve", moderator="olga")
    assert decided.status_code == 200, decided.text
    assert (decided.json()["status"], decided.json()["client"]) == ("approved", "shop")

    seen = service.shop.get(f"/v1/message_template/{submitted['id']}").json()
    assert seen["status"] == "approved" and seen["decided_at"] == "2026-11-27T09:00:00Z"
    assert [(t.id, t.status, t.decided_by) for t in service.told.decided] == [
        (submitted["id"], "approved", "admin:olga")
    ]
    assert service.decide(submitted["id"], decision="reject", note="late").status_code == 409


def test_a_moderators_rejection_reaches_the_client_with_the_note(service: Service) -> None:
    submitted = submit(service.shop, ORDER_READY_BODY)

    no_note = service.decide(submitted["id"], decision="reject")
    assert (no_note.status_code, no_note.json()["code"]) == (400, "INVALID_ARGUMENT")
    service.decide(submitted["id"], decision="reject", note="the tail misleads")

    seen = service.shop.get(f"/v1/message_template/{submitted['id']}").json()
    assert seen["status"] == "rejected" and seen["note"] == "the tail misleads"
    assert [r["code"] for r in seen["reasons"]] == ["MODERATOR_REJECTED"]


def test_a_promotional_template_is_rejected_at_once_with_the_words_at_fault(
    service: Service,
) -> None:
    rejected = submit(service.shop, BIRTHDAY_OFFER_BODY)

    assert rejected["status"] == "rejected"
    codes = {(r["code"], r["rule"], r["part"]) for r in rejected["reasons"]}
    assert ("PROMOTIONAL", "BIRTHDAY_OFFER", "body") in codes
    text = BIRTHDAY_OFFER_BODY["text"]
    assert all(text[r["start"] : r["end"]] == r["matched"] for r in rejected["reasons"])
    assert [t.id for t in service.told.decided] == [rejected["id"]]
    decided = service.decide(rejected["id"], decision="approve")
    assert decided.status_code == 409


def test_a_client_sees_only_its_own_templates(service: Service) -> None:
    mine = submit(service.shop, ORDER_READY_BODY)

    for path in (f"/v1/message_template/{mine['id']}", "/v1/message_template/tpl_nothing"):
        response = service.bank.get(path)
        assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")


def test_an_unsigned_call_or_a_bad_body_is_refused(service: Service) -> None:
    unsigned = requests.post(
        f"{service.shop.url}/v1/message_template", json=ORDER_READY_BODY, timeout=30
    )
    assert unsigned.status_code == 401
    for body in (
        {**ORDER_READY_BODY, "category": "newsletter"},
        {**ORDER_READY_BODY, "priority": "high"},
        {"category": "service"},
        {**ORDER_READY_BODY, "text": "Ваш заказ #order#\x00 готов"},
    ):
        refused = service.shop.post("/v1/message_template", body)
        assert (refused.status_code, refused.json()["code"]) == (400, "INVALID_ARGUMENT")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"text": "Ваш заказ #order#\x00 готов"}, "text"),
        ({"samples": {"order": ["123\x00456"]}}, "samples.order"),
        ({"samples": {"order\x00": "123-456"}}, "samples.order\x00.[key]"),
        ({"tail": "Скидка\x00 10%"}, "tail"),
        ({"text": "Ваш заказ #order# \udc00готов"}, "text"),  # half of a UTF-16 pair
        # shown backwards: an advert moderation would read as nonsense
        ({"tail": "\u202e!етиапук"}, "tail"),
        ({"text": "Ваш заказ #order# \u2067готов\u2069"}, "text"),
        ({"text": "Ваш заказ #order# \x1b[2Jготов"}, "text"),
    ],
)
def test_a_template_with_a_character_no_store_holds_is_an_invalid_argument_naming_the_field(
    service: Service, overrides: dict[str, Any], field: str
) -> None:
    refused = service.shop.post("/v1/message_template", ORDER_READY_BODY | overrides)

    assert (refused.status_code, refused.json()["code"]) == (400, "INVALID_ARGUMENT")
    assert refused.json()["message"].startswith(field)
    assert service.admin("GET", "/v1/admin/message_template").json() == []


def test_a_blank_note_is_refused_as_the_command_line_refuses_it(service: Service) -> None:
    submitted = submit(service.shop, ORDER_READY_BODY)

    for decision, note in (("approve", " "), ("reject", " \u200b ")):
        refused = service.decide(submitted["id"], decision=decision, note=note)
        assert (refused.status_code, refused.json()["code"]) == (400, "INVALID_ARGUMENT")
        assert "note" in refused.json()["message"]
    seen = service.shop.get(f"/v1/message_template/{submitted['id']}").json()
    assert seen["status"] == "pending_moderation"


def test_a_decision_with_a_nul_character_is_an_invalid_argument(service: Service) -> None:
    submitted = submit(service.shop, ORDER_READY_BODY)

    for body in (
        {"decision": "reject", "note": "the tail\x00 misleads"},
        {"decision": "approve", "moderator": "olga\x00"},
    ):
        refused = service.decide(submitted["id"], **body)
        assert (refused.status_code, refused.json()["code"]) == (400, "INVALID_ARGUMENT")
    seen = service.shop.get(f"/v1/message_template/{submitted['id']}").json()
    assert seen["status"] == "pending_moderation"


def test_an_id_no_store_holds_is_an_invalid_argument_not_looked_up(service: Service) -> None:
    # PostgreSQL refuses a NUL in a query: each was a 500
    decision = {"decision": "approve"}
    for response in (
        service.shop.get("/v1/message_template/tpl_%00"),
        service.admin("GET", "/v1/admin/message_template?after=tpl_%00"),
        service.admin("POST", "/v1/admin/message_template/tpl_%00/decision", json=decision),
    ):
        assert (response.status_code, response.json()["code"]) == (400, "INVALID_ARGUMENT")


@pytest.mark.parametrize(
    "query", ["stauts=approved", "status=approved&status=rejected", "limit=2&limit=3"]
)
def test_the_queue_refuses_a_filter_it_would_ignore(service: Service, query: str) -> None:
    # a misspelt status would have listed the pending queue as if it were the approved one
    response = service.admin("GET", f"/v1/admin/message_template?{query}")

    assert (response.status_code, response.json()["code"]) == (400, "INVALID_ARGUMENT")


def test_a_decision_nested_thousands_deep_is_an_invalid_argument(service: Service) -> None:
    submitted = submit(service.shop, ORDER_READY_BODY)
    deep = "[" * 100_000 + "]" * 100_000
    path = f"/v1/admin/message_template/{submitted['id']}/decision"

    refused = service.admin("POST", path, data=deep, headers={"Content-Type": "application/json"})

    assert (refused.status_code, refused.json()["code"]) == (400, "INVALID_ARGUMENT")
    assert "nested too deeply" in refused.json()["message"]


def test_a_decision_holding_an_integer_of_thousands_of_digits_is_an_invalid_argument(
    service: Service,
) -> None:
    submitted = submit(service.shop, ORDER_READY_BODY)
    body = '{"decision": "approve", "note": ' + "9" * 5000 + "}"
    path = f"/v1/admin/message_template/{submitted['id']}/decision"

    refused = service.admin("POST", path, data=body, headers={"Content-Type": "application/json"})

    assert (refused.status_code, refused.json()["code"]) == (400, "INVALID_ARGUMENT")
    assert "too many digits" in refused.json()["message"]


def test_the_admin_routes_need_the_token(service: Service) -> None:
    submitted = submit(service.shop, ORDER_READY_BODY)
    path = f"/v1/admin/message_template/{submitted['id']}/decision"

    for token in (None, "wrong", ADMIN_TOKEN[:-1]):
        refused = service.admin("POST", path, token=token, json={"decision": "approve"})
        assert (refused.status_code, refused.json()["code"]) == (401, "UNAUTHENTICATED")
    signed_by_a_client = service.shop.post(path, {"decision": "approve"})
    assert signed_by_a_client.status_code == 401
    assert service.decide("tpl_0000000000000000", decision="approve").status_code == 404
    assert service.told.decided == []


def test_without_an_admin_token_the_admin_routes_do_not_exist(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    for service in serve(database_url, engine, tmp_path, admin_token=None):
        submitted = submit(service.shop, ORDER_READY_BODY)
        response = service.decide(submitted["id"], decision="approve")
        assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")
        path = f"/v1/admin/message_template/{submitted['id']}/decision"
        garbage = service.admin("POST", path, data=b"{not json", headers=JSON)
        assert (garbage.status_code, garbage.json()["code"]) == (404, "NOT_FOUND")


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"{not json", "application/json", "not valid JSON: Expecting property name"),
        (b"", "application/json", "body: Field required"),
        (b'{"decision": "maybe"}', "application/json", "decision: Input should be"),
        (b'{"decision": "approve"}', "text/plain", "must be a JSON object"),
    ],
)
def test_the_token_is_checked_before_a_decisions_body_is_read(
    service: Service, body: bytes, content_type: str, message: str
) -> None:
    submitted = submit(service.shop, ORDER_READY_BODY)
    path = f"/v1/admin/message_template/{submitted['id']}/decision"
    headers = {"Content-Type": content_type}

    unknown = requests.post(f"{service.shop.url}{path}", data=body, headers=headers, timeout=30)
    assert (unknown.status_code, unknown.json()["code"]) == (401, "UNAUTHENTICATED")
    known = service.admin("POST", path, data=body, headers=headers)
    assert (known.status_code, known.json()["code"]) == (400, "INVALID_ARGUMENT")
    assert message in known.json()["message"]
    assert service.shop.get(f"/v1/message_template/{submitted['id']}").json()["status"] == (
        "pending_moderation"
    )


def test_the_queue_comes_a_page_at_a_time_with_a_link_to_the_next(service: Service) -> None:
    waiting = [submit(service.shop, ORDER_READY_BODY)["id"] for _ in range(3)]
    rejected = submit(service.shop, BIRTHDAY_OFFER_BODY)["id"]
    waiting.sort()  # submitted at one moment (the desk's clock stands still): by id

    first = service.admin("GET", "/v1/admin/message_template?limit=2")
    assert [t["id"] for t in first.json()] == waiting[:2]
    assert first.links["next"]["url"].endswith(f"after={waiting[1]}")
    rest = service.admin("GET", first.links["next"]["url"].removeprefix(service.shop.url))
    assert ([t["id"] for t in rest.json()], rest.links) == ([waiting[2]], {})

    for everything in ("all", ""):
        listed = service.admin("GET", f"/v1/admin/message_template?status={everything}")
        assert {t["id"] for t in listed.json()} == {*waiting, rejected}
    for query in ("limit=0", "limit=1001", "after=tpl_0000000000000000", "status=newest"):
        refused = service.admin("GET", f"/v1/admin/message_template?{query}")
        assert (refused.status_code, refused.json()["code"]) == (400, "INVALID_ARGUMENT")


def test_more_than_twenty_samples_of_a_placeholder_are_refused_not_cut(
    service: Service,
) -> None:
    samples = {"order": ["A-1"] * 20 + ["Z" * 3_000]}  # the 21st would be too long

    refused = service.shop.post("/v1/message_template", ORDER_READY_BODY | {"samples": samples})

    assert (refused.status_code, refused.json()["code"]) == (400, "INVALID_ARGUMENT")
    assert refused.json()["message"].startswith("samples.order: List should have at most 20")
    assert service.admin("GET", "/v1/admin/message_template").json() == []


@pytest.mark.parametrize(
    ("sample", "said"),
    [
        ("Z" * 10_001, "samples.order.0: String should have at most 10000 characters"),
        (["A-1", 5], "samples.order.1: Input should be a valid string"),
        (5, "samples.order: give a sample as a string, or a list of them"),
    ],
)
def test_a_refused_sample_is_told_of_once_not_once_for_each_shape_it_may_take(
    service: Service, sample: object, said: str
) -> None:
    body = ORDER_READY_BODY | {"samples": {"order": sample}}

    refused = service.shop.post("/v1/message_template", body)

    assert (refused.status_code, refused.json()["message"]) == (400, said)


@pytest.fixture(scope="module")
def scores(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return score_history(crafted_history(), tmp_path_factory.mktemp("scores"))


def notification(template_id: str, order: str) -> dict[str, Any]:
    return {
        "request_id": f"r-{len(order)}-{order[:8]}",
        "phone": VERIFIED_FRESH,
        "template_id": template_id,
        "params": {"order": order},
        "action": {"type": "order", "at": NOW.isoformat() + "Z"},
    }


@pytest.mark.parametrize(
    ("order", "status", "code"),
    [
        ("A-17", 202, None),
        ("«Подарочный набор чая» №123", 202, None),  # goods, not a gift offered
        ("Скидка 50% на всё! Купите сейчас", 422, "PROMOTIONAL_PARAMS"),
        ("Z" * 1_000, 422, "MESSAGE_TOO_LONG"),
        ("Скидка 50% на всё! Купите сейчас " * 3_000, 400, "INVALID_ARGUMENT"),  # past 10,000
    ],
)
def test_a_notification_is_held_to_the_moderations_rules_once_filled(
    database_url: str, engine: Engine, scores: Path, order: str, status: int, code: str | None
) -> None:
    for service in serve(database_url, engine, scores, ADMIN_TOKEN, notifying=True):
        template = submit(service.shop, ORDER_READY_BODY)
        service.decide(template["id"], decision="approve")

        answer = service.shop.post("/v1/notify", notification(template["id"], order))

        assert answer.status_code == status, answer.text
        if code is not None:
            assert answer.json()["code"] == code
            assert set(answer.json()) == {"status", "code", "message"}
