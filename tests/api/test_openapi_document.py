"""The published OpenAPI document says what the service answers and sends, as a client generated
from it would read it: the webhooks, the error codes, the headers and the content types."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator

from api.app import create_app
from api.error_codes import ErrorCode
from api.errors import NOTIFY_PROBLEMS, TEMPLATE_PROBLEMS
from api.serving import SnapshotSource
from delivery.ports import TemplateProblem
from delivery.templates import template_public
from delivery.webhooks.dispatcher import webhook_body
from delivery.webhooks.events import (
    NotificationReplied,
    NotificationStatusChanged,
    TemplateModerated,
    WebhookEvent,
    webhook_of,
)
from delivery.webhooks.outbox import ClaimedDelivery
from ownership.moderation import Category, Finding, ModerationReason, Part, TemplateDraft
from ownership.moderation import TemplateStatus as ModerationStatus
from ownership.notifications import NotificationStatus, RequestProblem
from ownership.verdicts import Reason
from pipelines.settings import load_settings
from store.templates import TemplateRecord
from tests.api.service import serving

README = Path(__file__).parents[2] / "README.md"
QUEUED_AT = datetime(2026, 6, 1, 10, 0, 5, tzinfo=UTC)
STEP_AT = datetime(2026, 6, 1, 10, 0, 4)
PROMOTIONAL_BODY = Finding(
    ModerationReason.PROMOTIONAL,
    "DISCOUNT",
    "a discount is advertising",
    Part.BODY,
    "скидка",
    8,
    14,
)
REJECTED_TEMPLATE = TemplateRecord(
    id="tpl_3f9a0c1d2e4b5a69",
    client_key="key",
    draft=TemplateDraft.of("Ваш заказ #order# готов", Category.ORDER_STATUS, {"order": "A-17"}),
    status=ModerationStatus.REJECTED,
    reasons=(PROMOTIONAL_BODY,),
    rules_version="1",
    created_at=datetime(2026, 6, 1, 9, 0),
    decided_at=STEP_AT,
    decided_by="admin",
    note="the body advertises",
)
EVENTS: dict[str, WebhookEvent] = {
    "denied": NotificationStatusChanged(
        notification_id="ntf_5c2e9b0a7d4f1e3c8a6b2d90",
        status=NotificationStatus.SMS_SENT.value,
        at=STEP_AT,
        sequence=3,
        request_id="order-17-ready",
        channel="sms",
        reasons=(Reason.RECENT_CODE_ENTRY.value,),
        detail={"channel": "sms", "denied": True},
    ),
    "accepted": NotificationStatusChanged(
        notification_id="ntf_5c2e9b0a7d4f1e3c8a6b2d90",
        status=NotificationStatus.ACCEPTED.value,
        at=STEP_AT,
        sequence=1,
        request_id="order-17-ready",
        detail={"action": "deliver", "policy_case": "VERIFIED_FRESH"},
    ),
    "reply": NotificationReplied(
        notification_id="ntf_5c2e9b0a7d4f1e3c8a6b2d90",
        text="Спасибо!",
        at=STEP_AT,
        request_id="order-17-ready",
        channel="vk",
    ),
    "template_rejected": TemplateModerated(
        REJECTED_TEMPLATE.id, STEP_AT, template_public(REJECTED_TEMPLATE)
    ),
}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`/openapi.json`, as the service serves it."""
    folder = tmp_path_factory.mktemp("document")
    app = create_app(
        load_settings(scores_dir=folder), snapshots=SnapshotSource(folder / "snapshot.bin")
    )
    with serving(app, lifespan="off") as url:
        yield requests.get(f"{url}/openapi.json", timeout=30).json()


def sent(event: WebhookEvent) -> tuple[str, dict[str, Any]]:
    """The webhook's name and its body, as the dispatcher sends it."""
    event_type, data = webhook_of(event)
    delivery = ClaimedDelivery(
        id=1,
        event_id="evt_0123456789abcdef0123456789abcdef",
        client_key="key",
        url="https://shop.example/hooks",
        event_type=event_type.value,
        payload=json.loads(json.dumps(data)),  # as the outbox stores it and reads it back
        created_at=QUEUED_AT,
        attempts=1,
        claimed_at=QUEUED_AT,
    )
    return event_type.value, json.loads(webhook_body(delivery))


def body_schema(published: dict[str, Any], name: str) -> dict[str, Any]:
    body = published["webhooks"][name]["post"]["requestBody"]["content"]["application/json"]
    schema: dict[str, Any] = body["schema"] | published  # a `$ref` into its components
    return schema


@pytest.mark.parametrize("event", EVENTS.values(), ids=EVENTS.keys())
def test_every_webhook_sent_is_within_its_published_schema(
    published: dict[str, Any], event: WebhookEvent
) -> None:
    name, body = sent(event)

    schema = body_schema(published, name)
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(body)


def test_a_webhook_queued_before_sequences_were_sent_is_within_its_schema_too(
    published: dict[str, Any],
) -> None:
    name, body = sent(EVENTS["denied"])
    del body["data"]["sequence"]

    Draft202012Validator(body_schema(published, name)).validate(body)


def test_each_published_webhook_names_its_type_and_its_signature_headers(
    published: dict[str, Any],
) -> None:
    assert set(published["webhooks"]) == {
        "notification.status",
        "notification.reply",
        "template.status",
    }
    for name, operations in published["webhooks"].items():
        operation = operations["post"]
        schema = body_schema(published, name)
        reference = schema["$ref"].rsplit("/", 1)[-1]
        assert published["components"]["schemas"][reference]["properties"]["type"] == {
            "type": "string",
            "const": name,
            "title": "Type",
        }
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        assert {"200", "410", "429", "503"} <= set(operation["responses"])
        assert "Retry-After" in operation["responses"]["429"]["headers"]


def test_the_error_envelope_lists_every_code_the_api_answers(published: dict[str, Any]) -> None:
    info = published["components"]["schemas"]["ErrorInfo"]["properties"]["code"]
    listed = published["components"]["schemas"][info["$ref"].rsplit("/", 1)[-1]]["enum"]

    assert listed == [code.value for code in ErrorCode]


def test_the_envelope_names_camaras_too_many_requests_again() -> None:
    assert ErrorCode("TOO_MANY_REQUESTS") is ErrorCode.TOO_MANY_REQUESTS


def test_every_client_route_documents_its_429_with_retry_after(published: dict[str, Any]) -> None:
    signed = {
        f"{method.upper()} {path}": operation["responses"]
        for path, operations in published["paths"].items()
        for method, operation in operations.items()
        if {"OAuth1": []} in operation.get("security", [])
    }
    undocumented = [
        name
        for name, responses in signed.items()
        if "Retry-After" not in responses.get("429", {}).get("headers", {})
    ]

    assert len(signed) >= 10  # the checks, CAMARA's, notify, templates, billing, ping
    assert undocumented == []
    ping = signed["POST /v1/ping"]["429"]["content"]["application/json"]["schema"]
    assert ping == {"$ref": "#/components/schemas/ErrorInfo"}


def test_every_refusal_of_a_notification_or_its_template_has_its_answer() -> None:
    assert set(NOTIFY_PROBLEMS) == set(RequestProblem)
    assert set(TEMPLATE_PROBLEMS) == set(TemplateProblem)


def test_the_readme_names_every_error_code() -> None:
    readme = README.read_text()

    assert [code for code in ErrorCode if f"`{code}`" not in readme] == []


def test_a_replayed_notify_answer_is_documented_by_its_header(published: dict[str, Any]) -> None:
    accepted = published["paths"]["/v1/notify"]["post"]["responses"]["202"]

    assert accepted["headers"]["Idempotent-Replayed"]["schema"] == {
        "type": "string",
        "enum": ["true"],
    }


def test_a_notifications_statuses_are_the_enum_of_them(published: dict[str, Any]) -> None:
    schemas = published["components"]["schemas"]
    enum = {"$ref": "#/components/schemas/NotificationStatus"}

    assert schemas["NotificationPublic"]["properties"]["status"]["$ref"] == enum["$ref"]
    assert schemas["StatusStep"]["properties"]["status"] == enum
    assert schemas["NotificationStatus"]["enum"] == [status.value for status in NotificationStatus]


def test_metrics_are_documented_as_prometheus_text(published: dict[str, Any]) -> None:
    answer = published["paths"]["/metrics"]["get"]["responses"]["200"]

    assert set(answer["content"]) == {"text/plain"}


def operations_of(published: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": operation
        for path, operations in published["paths"].items()
        for method, operation in operations.items()
    }


def test_every_401_documents_the_challenge_its_answer_carries(published: dict[str, Any]) -> None:
    challenges = {
        name: operation["responses"]["401"]["headers"]["WWW-Authenticate"]["schema"]["enum"]
        for name, operation in operations_of(published).items()
        if {"OAuth1": []} in operation.get("security", [])
        or {"AdminToken": []} in operation.get("security", [])
    }

    assert challenges["POST /v1/check"] == ['OAuth realm="ownership"']
    assert challenges["GET /v1/admin/message_template"] == ['Bearer realm="admin"']
    assert all(challenge for challenge in challenges.values())


def test_every_route_that_takes_a_body_documents_its_413_even_one_that_reads_none(
    published: dict[str, Any],
) -> None:
    posts = {name: op for name, op in operations_of(published).items() if name.startswith("POST")}

    assert "POST /v1/ping" in posts
    assert [name for name, operation in posts.items() if "413" not in operation["responses"]] == []


def test_reads_document_no_conflict_and_a_submitted_template_its_location(
    published: dict[str, Any],
) -> None:
    operations = operations_of(published)

    for read in ("GET /v1/notifications/{notification_id}", "GET /v1/billing"):
        assert {"409", "422"}.isdisjoint(operations[read]["responses"])
    submitted = operations["POST /v1/message_template"]["responses"]["201"]
    assert "Location" in submitted["headers"]


def test_a_bills_lines_carry_their_unit_price_and_name_their_channel(
    published: dict[str, Any],
) -> None:
    schemas = published["components"]["schemas"]
    line = schemas["BillingLine"]["properties"]
    billing = published["paths"]["/v1/billing"]["get"]
    month = next(parameter for parameter in billing["parameters"] if parameter["name"] == "month")

    assert {"price", "amount", "delivered"} <= set(schemas["BillingLine"]["required"])
    assert "4 places" in line["price"]["description"]
    assert line["channel"] == {"$ref": "#/components/schemas/Channel"}
    assert schemas["NotificationPublic"]["properties"]["channel"]["anyOf"][0] == line["channel"]
    assert month["schema"]["pattern"] == "^[0-9]{4}-(0[1-9]|1[0-2])$"
    assert "UTC month" in billing["description"]
