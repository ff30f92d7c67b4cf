"""Wire schemas of the events gateways post to `/v1/networks/{network}/events` and
`/v1/sms/events`, one JSON object a request, told apart by `type`; mapped to
`delivery.events` at the edge. The channel comes from the path (and its secret), never from the
body."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.schemas import FitsInUtc, StoredText
from delivery.channels.http import MAX_PROVIDER_ID
from delivery.events import (
    InboundEvent,
    MessageDelivered,
    MessageRead,
    ReplyReceived,
    ReverificationAnswer,
    ReverificationAnswered,
    ReverificationCodeEntered,
    SmsDelivered,
    SmsError,
    SmsFailed,
)
from ownership.channels import Channel

Id = Annotated[StoredText, Field(min_length=1, max_length=200)]
# the provider ids the HTTP adapters take when sending, and the store keeps: one contract
ProviderId = Annotated[StoredText, Field(min_length=1, max_length=MAX_PROVIDER_ID)]
# a social account's id, as the store keeps it with a re-verification result
AccountId = Annotated[StoredText, Field(min_length=1, max_length=80)]
# what a spreadsheet opening the verifications' export would take a cell beginning with for a
# formula (`=HYPERLINK(…)`), or a line's end
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def exportable_account(account_id: str | None) -> str | None:
    """The answering account's id as the store is to keep it, for the export to write: one a
    spreadsheet would run as a formula is not kept (the answer is: None, an account unknown)."""
    if account_id is None or account_id.startswith(FORMULA_STARTS):
        return None
    return account_id


# how much later than its report's signature (`webhook-timestamp`) an event may be dated: nothing
# is reported before it happens, but the clock that dated the event (the network's) and the one
# that signed the report (the gateway's) may differ a little. The signature's own time is within
# OWNERSHIP_GATEWAY_SIGNATURE_TOLERANCE_SECONDS of ours, so a gateway whose clock runs ahead
# within that tolerance has its reports taken
REPORT_CLOCK_SKEW = timedelta(minutes=5)


class _Notice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    notification_id: Id = Field(description="our notification id, as the message carried it")
    provider_id: ProviderId = Field(description="the gateway's id of the message")
    at: Annotated[AwareDatetime, FitsInUtc] = Field(
        description="when it happened, with its offset; not after the report is signed"
    )

    def dated_after(self, signed_at: datetime) -> bool:
        """Whether the event is dated after the report of it was signed (beyond the skew): a
        time ahead would hold (a Yes keeps a number fresh for F from it) or bill as of then."""
        return self.at > signed_at + REPORT_CLOCK_SKEW


class MessageDeliveredNotice(_Notice):
    type: Literal["message.delivered"]

    def to_event(self, channel: Channel) -> InboundEvent:
        return MessageDelivered(self.notification_id, self.provider_id, channel, self.at)


class MessageReadNotice(_Notice):
    type: Literal["message.read"]

    def to_event(self, channel: Channel) -> InboundEvent:
        return MessageRead(self.notification_id, self.provider_id, channel, self.at)


class ReplyNotice(_Notice):
    type: Literal["message.replied"]
    text: StoredText = Field(max_length=10_000)

    def to_event(self, channel: Channel) -> InboundEvent:
        return ReplyReceived(self.notification_id, self.provider_id, channel, self.at, self.text)


class AnswerNotice(_Notice):
    type: Literal["prompt.answered"]
    answer: ReverificationAnswer
    account_id: AccountId | None = Field(
        None, description="the account that answered, when the gateway knows it"
    )

    def to_event(self, channel: Channel) -> InboundEvent:
        return ReverificationAnswered(
            self.notification_id,
            self.provider_id,
            channel,
            self.at,
            self.answer,
            exportable_account(self.account_id),
        )


class CodeEnteredNotice(_Notice):
    type: Literal["prompt.code_entered"]
    code: StoredText = Field(
        min_length=1, max_length=32, description="what the person entered, as entered"
    )
    account_id: AccountId | None = Field(
        None, description="the account that entered it, when the gateway knows it"
    )

    def to_event(self, channel: Channel) -> InboundEvent:
        return ReverificationCodeEntered(
            self.notification_id,
            self.provider_id,
            channel,
            self.at,
            self.code,
            exportable_account(self.account_id),
        )


class SmsDeliveredNotice(_Notice):
    type: Literal["sms.delivered"]

    def to_event(self, channel: Channel) -> InboundEvent:
        return SmsDelivered(self.notification_id, self.provider_id, channel, self.at)


class SmsFailedNotice(_Notice):
    type: Literal["sms.failed"]
    error: SmsError

    def to_event(self, channel: Channel) -> InboundEvent:
        return SmsFailed(self.notification_id, self.provider_id, channel, self.at, self.error)


NetworkEventNotice = Annotated[
    MessageDeliveredNotice | MessageReadNotice | ReplyNotice | AnswerNotice | CodeEnteredNotice,
    Field(discriminator="type"),
]
SmsEventNotice = Annotated[SmsDeliveredNotice | SmsFailedNotice, Field(discriminator="type")]

NETWORK_EXAMPLES = {
    "delivered": {
        "value": {
            "type": "message.delivered",
            "notification_id": "n-1",
            "provider_id": "vk-1",
            "at": "2026-06-02T09:00:30Z",
        }
    },
    "answered": {
        "value": {
            "type": "prompt.answered",
            "notification_id": "n-1",
            "provider_id": "vk-2",
            "at": "2026-06-02T09:02:00Z",
            "answer": "confirmed",
        }
    },
    "code_entered": {
        "value": {
            "type": "prompt.code_entered",
            "notification_id": "n-2",
            "provider_id": "vk-3",
            "at": "2026-06-02T09:03:00Z",
            "code": "042917",
        }
    },
}
SMS_EXAMPLES = {
    "failed": {
        "value": {
            "type": "sms.failed",
            "notification_id": "n-1",
            "provider_id": "sms-1",
            "at": "2026-06-02T09:00:05Z",
            "error": "absent_subscriber",
        }
    }
}
