"""Sending a re-verification's SMS code, under the dispatcher's claim on the notification.

The code SMS is the service's own cost: it goes under an id of its own (`SmsMessage.message_id`),
so its reports name no notification, and nothing bills it. A code whose SMS the gateway took
stands for every later round (a network that refused, or could not be reached, hands the prompt
to the next round, which asks again for the same code); one whose SMS the gateway may not have
taken (it could not be reached) is replaced by a new code, in an SMS of its own.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

from delivery import code_records
from delivery.channels.ports import ChannelUnavailableError, SmsKind, SmsMessage
from delivery.notify_core import NotifyCore
from ownership.channels import Channel
from ownership.codes import code_sms_text, issue, new_code

log = logging.getLogger(__name__)


class CodeSent(Enum):
    # the gateway took the code's SMS, now or in an earlier round
    OUT = "out"
    # the SMS gateway could not be asked: the notification waits for the next round
    UNAVAILABLE = "unavailable"
    # the SMS gateway refused the code's SMS: no code can reach the person
    REFUSED = "refused"


class CodeSending(NotifyCore):
    def _send_code(self, row: dict[str, Any], network: Channel) -> tuple[CodeSent, str]:
        """The notification's code, by SMS, once it is claimed for `network`'s prompt (the
        claim keeps every other dispatcher away). Returns what became of it, and a refusal's
        reason."""
        now = self.clock.now()
        code = new_code()
        with self.engine.begin() as connection:
            kept = code_records.fetch_code(connection, row["id"])
            if kept is not None and (kept["sms_provider_id"] or kept["result"]):
                return CodeSent.OUT, ""
            number = code_records.issue_code(connection, row["id"], issue(code), now)
        if number is None:  # an entry or a result came between: the code stands
            return CodeSent.OUT, ""
        sms = SmsMessage(
            row["id"], row["phone"], code_sms_text(code, network), kind=SmsKind.CODE, issued=number
        )
        try:
            outcome = self.sms.send(sms)
        except ChannelUnavailableError as error:
            log.warning("the SMS gateway is unavailable for the code of %s: %s", row["id"], error)
            return CodeSent.UNAVAILABLE, ""
        if outcome.provider_id is None:
            log.info("the SMS gateway refused the code of %s: %s", row["id"], outcome.refusal)
            return CodeSent.REFUSED, str(outcome.refusal)
        with self.engine.begin() as connection:
            code_records.code_taken(connection, row["id"], number, outcome.provider_id)
        return CodeSent.OUT, ""
