"""What each event tells the client: its webhook type and data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from delivery.webhooks import (
    NotificationReplied,
    NotificationStatusChanged,
    TemplateModerated,
    WebhookEventType,
    webhook_of,
)

AT = datetime(2026, 11, 27, 12, 0, 5, tzinfo=UTC)


def test_a_status_change_is_a_notification_status_webhook() -> None:
    event = NotificationStatusChanged(
        "ntf_1",
        "sms_sent",
        AT,
        sequence=4,
        request_id="order-42",
        channel="sms",
        reasons=("TTL_EXPIRED",),
        detail={"channel": "sms", "ttl_ran_out": True},
    )

    assert webhook_of(event) == (
        WebhookEventType.NOTIFICATION_STATUS,
        {
            "notification_id": "ntf_1",
            "request_id": "order-42",
            "status": "sms_sent",
            "sequence": 4,
            "at": "2026-11-27T12:00:05Z",
            "channel": "sms",
            "reasons": ["TTL_EXPIRED"],
            "detail": {"channel": "sms", "ttl_ran_out": True},
        },
    )


def test_a_reply_is_a_notification_reply_webhook_with_its_text() -> None:
    event = NotificationReplied("ntf_1", "Спасибо!", AT, channel="vk")

    event_type, data = webhook_of(event)

    assert event_type is WebhookEventType.NOTIFICATION_REPLY
    assert (data["text"], data["channel"], data["request_id"]) == ("Спасибо!", "vk", None)


def test_a_moderators_decision_is_a_template_status_webhook_in_utc() -> None:
    moscow = timezone(timedelta(hours=3))
    template = {"id": "tpl_7", "status": "rejected", "note": "no discounts in the body"}
    event = TemplateModerated("tpl_7", AT.astimezone(moscow), template)

    assert webhook_of(event) == (
        WebhookEventType.TEMPLATE_STATUS,
        template | {"template_id": "tpl_7", "at": "2026-11-27T12:00:05Z"},
    )
