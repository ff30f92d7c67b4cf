"""Re-verification by an SMS code (DESIGN §7: "or enters a code sent by SMS").

A notification may ask for a code rather than the Yes/No prompt. The code is six digits drawn
with `secrets`; the store keeps only a keyed hash of it (HMAC-SHA256 under a salt drawn for the
notification), never the code itself. The person has `CODE_ATTEMPTS` tries: the right code
confirms the number as a Yes does; that many wrong ones fail the re-verification, which is no
denial (a wrong code says nothing of who holds the number), and the notification goes by SMS.

Pure: hashing and comparing are the standard library's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from ownership.channels import Channel

CODE_DIGITS = 6
# wrong codes a notification takes before its re-verification fails
CODE_ATTEMPTS = 3
# codes drawn for a notification at most: each whose SMS the gateway did not confirm taking
# (it timed out) may reach the person all the same, so a gateway timing out at every round
# would send one every few seconds; past these, no code can be said to reach the person
CODE_SMS_MAX = 3
# code SMS one number is sent at most within the window, across notifications and clients: a
# client cannot make the service send a person's phone code after unbilled code (SMS pumping)
CODE_SMS_PER_NUMBER = 5
CODE_SMS_WINDOW = timedelta(minutes=60)
SALT_BYTES = 16
NETWORK_NAMES = {Channel.VK: "VK", Channel.OK: "OK"}


class ReverifyMethod(StrEnum):
    """How a notification asks the person, when the policy says re-verify."""

    # «+792* *** ** 23 — это ваш номер телефона? Да / Нет»
    PROMPT = "prompt"
    # a code sent by SMS, entered in the social network
    SMS_CODE = "sms_code"


class CodeOutcome(StrEnum):
    """What an entered code did."""

    # the right code: confirmed, as a Yes
    CONFIRMED = "confirmed"
    # a wrong code, with tries left
    WRONG = "wrong"
    # the last try was wrong: the re-verification failed
    FAILED = "failed"
    # taken already (a gateway's repeated report), or the re-verification has its result: ignored
    IGNORED = "ignored"


@dataclass(frozen=True)
class IssuedCode:
    """A code as the store keeps it: its salt and keyed hash, never the code."""

    salt: str  # hex
    digest: str  # hex HMAC-SHA256 of the code under the salt


@dataclass(frozen=True)
class CodeSmsLimit:
    """How many code SMS one number may be sent within a window, whatever notification and
    client they are for; a notification's own replacement codes count among them."""

    per_number: int = CODE_SMS_PER_NUMBER
    window: timedelta = CODE_SMS_WINDOW

    def since(self, now: datetime) -> datetime:
        """The earliest code SMS that counts at `now`."""
        return now - self.window

    def refusal(self, sent: int) -> str | None:
        """Why one more code SMS may not go to a number that was sent `sent` within the
        window (those that may have gone included); None while it may."""
        if sent < self.per_number:
            return None
        # the same words whatever the count: the codes may be other clients', whose traffic
        # one client is not told of
        minutes = int(self.window.total_seconds()) // 60
        return f"the number was sent as many codes as it may be within {minutes} minutes"


def new_code() -> str:
    """Six random digits, leading zeros kept."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def issue(code: str) -> IssuedCode:
    salt = secrets.token_hex(SALT_BYTES)
    return IssuedCode(salt, _digest(salt, code))


def matches(issued: IssuedCode, entered: str) -> bool:
    """Whether `entered` is the code, compared in constant time."""
    return hmac.compare_digest(_digest(issued.salt, entered.strip()), issued.digest)


def entry_fingerprint(issued: IssuedCode, entered: str, at: datetime) -> str:
    """One entry's mark, to know a gateway's repeated report of it: keyed like the code, so
    that a wrong code is not kept in clear either."""
    moment = at.astimezone(UTC).isoformat()
    return _digest(issued.salt, f"{moment}|{entered.strip()}")[:32]


def judge(right: bool, attempts_before: int) -> CodeOutcome:
    """The outcome of an entry made after `attempts_before` others."""
    if right:
        return CodeOutcome.CONFIRMED
    return CodeOutcome.FAILED if attempts_before + 1 >= CODE_ATTEMPTS else CodeOutcome.WRONG


def code_sms_text(code: str, network: Channel) -> str:
    """The SMS that carries the code: short, one part."""
    return f"Код {code} — чтобы увидеть сообщение в {NETWORK_NAMES[network]}. Никому не сообщайте."


def _digest(salt: str, text: str) -> str:
    return hmac.new(bytes.fromhex(salt), text.encode("utf-8"), hashlib.sha256).hexdigest()
