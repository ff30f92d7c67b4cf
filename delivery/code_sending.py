"""Sending a re-verification's SMS code, under the dispatcher's claim on the notification.

The code SMS is the service's own cost: it goes under an id of its own (`SmsMessage.message_id`),
so its reports name no notification, and nothing bills it. A code whose SMS the gateway took
stands for every later round (a network that refused, or could not be reached, hands the prompt
to the next round, which asks again for the same code); one whose SMS the gateway may not have
taken (its answer never came) is replaced by a new code, in an SMS of its own, up to
`CODE_SMS_MAX` codes: past them the notification goes as one whose code could not be sent. An
SMS that surely never left (no connection) does not count. A code's SMS is worth delivering
until the notification's TTL ends, when its prompt is taken back: the gateway is told that
moment, the same for every SMS of every code of the notification, so that a repeat is the same
message.

A number is sent at most so many code SMS within a window (`CodeSmsLimit`), for whatever
notifications of whatever clients: past them the notification goes as one whose code could not
be sent, so that no client can make the service send a person's phone one unbilled code after
another (SMS pumping).
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

from delivery import code_records
from delivery.channels.ports import ChannelUnavailableError, SmsKind, SmsMessage
from delivery.notify_core import NotifyCore
from ownership.channels import Channel
from ownership.codes import CODE_SMS_MAX, code_sms_text, issue, new_code

log = logging.getLogger(__name__)


# why no code can reach the person, as the notification's history says it (the gateway's own
# refusal is not kept: it may quote the SMS, and so the code)
UNCONFIRMED = f"the SMS gateway confirmed none of the {CODE_SMS_MAX} codes' SMS"
REFUSED_BY_GATEWAY = "the SMS gateway refused the code's SMS"


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
            if kept is not None and int(kept["issued"]) >= CODE_SMS_MAX:
                return CodeSent.REFUSED, UNCONFIRMED
            # counted, not locked: two dispatchers drawing codes for one number at once may
            # both find it under the limit and both send, one code over it. The limit bounds
            # what a client can make the service send, it is no exact quota; a lock on the
            # number would have to be held across the gateway's call
            sent = code_records.code_sms_sent_to(
                connection,
                row["phone"],
                self.code_sms_limit.since(now),
                self.claim_timeout,
            )
            too_many = self.code_sms_limit.refusal(sent)
            if too_many is not None:
                # the number is never logged in clear: the notification names it
                log.info("no code SMS for %s: %s", row["id"], too_many)
                return CodeSent.REFUSED, too_many
            number = code_records.issue_code(
                connection, row["id"], kept, issue(code), now, self.code_cipher
            )
        if number is None:  # an entry or a result came between: the code stands
            return CodeSent.OUT, ""
        sms = SmsMessage(
            row["id"],
            row["phone"],
            code_sms_text(code, network),
            kind=SmsKind.CODE,
            issued=number,
            # the code can be entered only while the prompt waits, until the TTL runs out
            valid_until=row["expires_at"],
        )
        try:
            outcome = self.sms.send(sms)
        except ChannelUnavailableError as error:
            # the error's text may quote the gateway's answer, and a gateway may echo the SMS:
            # only its kind is logged, never the code
            log.warning(
                "the SMS gateway is unavailable for the code of %s (%s)",
                row["id"],
                type(error).__name__,
            )
            if error.never_sent:
                with self.engine.begin() as connection:
                    code_records.code_not_sent(connection, row["id"], number)
            return CodeSent.UNAVAILABLE, ""
        if outcome.provider_id is None:
            log.info("the SMS gateway refused the code of %s", row["id"])
            return CodeSent.REFUSED, REFUSED_BY_GATEWAY
        with self.engine.begin() as connection:
            code_records.code_taken(connection, row["id"], number, outcome.provider_id)
        return CodeSent.OUT, ""
