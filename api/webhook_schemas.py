"""Wire schemas of the webhooks a client receives (README, "Webhooks to clients"), published as
the OpenAPI document's `webhooks`.

What is sent is built without the API: `delivery.webhooks.events.webhook_of` gives each event's
`data`, and `delivery.webhooks.dispatcher.webhook_body` wraps it as `{type, timestamp, data}`;
a test validates what they build against these, as published.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from api.template_schemas import TemplatePublic
from ownership.channels import Channel
from ownership.notifications import NotificationStatus
from ownership.verdicts import Reason

TIMESTAMP = (
    "When the event was queued (UTC), the same on every retry; the `webhook-timestamp` header "
    "is the attempt's."
)
AT = "When the step was taken (UTC)."


class NotificationStatusData(BaseModel):
    notification_id: str
    request_id: str | None = Field(description="The request_id the notification was sent with.")
    status: NotificationStatus = Field(description="The status the notification moved to.")
    # absent from events queued by a release before it: documented as optional, never null
    sequence: int | SkipJsonSchema[None] = Field(
        None,
        description="The status's place in the notification's history, as "
        "`GET /v1/notifications/{id}` lists it (1 is `accepted`): webhooks may arrive out of "
        "order, so keep the status with the highest sequence.",
    )
    at: datetime = Field(description=AT)
    channel: Channel | None = Field(description="The channel of the step, if it has one.")
    reasons: list[Reason] = Field(
        description="The number's reasons when the notification was accepted."
    )
    detail: dict[str, object] = Field(
        description='Why the step was taken, as its history entry says: `{"denied": true}` on '
        "the `sms_sent` after the person answered No, `confirmed` after a Yes, an SMS's `error`, "
        "`ttl_ran_out` on `expired`, or `denied` when a No to another notification withdrew it."
    )


class NotificationReplyData(BaseModel):
    notification_id: str
    request_id: str | None = Field(description="The request_id the notification was sent with.")
    text: str = Field(description="What the person wrote in the network; free of charge.")
    at: datetime = Field(description="When the person replied (UTC).")
    channel: Channel | None = Field(description="The network the reply came from.")


class TemplateStatusData(TemplatePublic):
    """What `GET /v1/message_template/{id}` answers, with `template_id` and `at`."""

    template_id: str = Field(description="The template's id, as `id`.")
    at: datetime = Field(description="When the moderator decided (UTC).")


class NotificationStatusWebhook(BaseModel):
    """A notification moved to a new status."""

    type: Literal["notification.status"]
    timestamp: datetime = Field(description=TIMESTAMP)
    data: NotificationStatusData


class NotificationReplyWebhook(BaseModel):
    """The person replied to a notification in the social network."""

    type: Literal["notification.reply"]
    timestamp: datetime = Field(description=TIMESTAMP)
    data: NotificationReplyData


class TemplateStatusWebhook(BaseModel):
    """A template was decided: rejected at submission by the automatic moderation, or approved
    or rejected by a moderator."""

    type: Literal["template.status"]
    timestamp: datetime = Field(description=TIMESTAMP)
    data: TemplateStatusData
