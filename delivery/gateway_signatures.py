"""Gateways sign the events they post to us the Standard Webhooks way (DESIGN §7).

Headers `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature` (space-separated
`v1,<base64 HMAC-SHA256>` entries, any one of which may match, so a gateway can roll its secret).
The HMAC is over `"{id}.{timestamp}.{body}"` under the gateway's secret, written `whsec_<base64>`
as the specification and its libraries do. The timestamp must be within the tolerance (5
minutes) of our clock either way, so an old capture cannot be replayed later; within the window
a replay is a duplicate that the consumer absorbs (`InboundEvents.handle` is idempotent), so no
webhook-id is kept here. These routes are not under OAuth 1.0a: a gateway is not a client.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ownership.channels import Channel

SECRET_PREFIX = "whsec_"
MAX_HEADER = 1_024
# ASCII digits only (`str.isdigit` takes "¹", which `int` refuses), and few enough of them to
# compare with a float clock (a 400-digit one overflows it); 12 digits reach the year 33658
UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


class SignatureError(Exception):
    """The request is not signed by the gateway (or not recently): why, for the log."""


def decode_secret(secret: str) -> bytes:
    """`whsec_<base64>` (or bare base64) → the HMAC key."""
    text = secret.removeprefix(SECRET_PREFIX)
    text += "=" * (-len(text) % 4)  # some write it unpadded
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError("a gateway secret is whsec_ followed by base64") from error
    if len(key) < 16:
        raise ValueError("a gateway secret must hold 16 bytes or more")
    return key


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature entry (what a gateway sends; for tests and fakes), over
    the timestamp's number, as Standard Webhooks libraries sign and verify it."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class GatewaySignatures:
    """Checks inbound events against each gateway's secret."""

    def __init__(
        self, secrets: Mapping[Channel, bytes], tolerance: timedelta = timedelta(minutes=5)
    ) -> None:
        self._keys = dict(secrets)
        self._tolerance = tolerance

    @classmethod
    def from_text(
        cls, secrets: Mapping[str, str], tolerance: timedelta = timedelta(minutes=5)
    ) -> GatewaySignatures:
        keys = {Channel(name): decode_secret(text) for name, text in secrets.items()}
        return cls(keys, tolerance)

    def stamp_of(self, channel: Channel, headers: Mapping[str, str], now: datetime) -> Stamp:
        """What the headers alone say, checked: the gateway has a secret here, every header is
        there and well formed (a `v1,` entry of a SHA-256 HMAC's length among the
        signatures), and the timestamp is recent. So that a request they refuse is refused
        before its body is read; `SignatureError` if not."""
        key = self._keys.get(channel)
        if key is None:
            raise SignatureError(f"no gateway secret is configured for {channel}")
        message_id = headers.get("webhook-id", "")
        stamp = headers.get("webhook-timestamp", "")
        signatures = headers.get("webhook-signature", "")
        if not message_id or not stamp or not signatures:
            raise SignatureError("webhook-id, webhook-timestamp and webhook-signature are needed")
        if max(len(message_id), len(stamp), len(signatures)) > MAX_HEADER:
            raise SignatureError("a webhook header is too long")
        if UNIX_SECONDS.fullmatch(stamp) is None:
            raise SignatureError("webhook-timestamp is not a Unix time in seconds")
        offered = tuple(entry for entry in signatures.split(" ") if V1_SIGNATURE.fullmatch(entry))
        if not offered:
            raise SignatureError("webhook-signature holds no v1,<base64 HMAC-SHA256> entry")
        signed = Stamp(key, message_id, stamp, offered, self._tolerance)
        signed.check_time(now)
        return signed


# a `v1,` entry: the base64 of 32 bytes, an HMAC-SHA256
V1_SIGNATURE = re.compile(r"v1,[A-Za-z0-9+/]{43}=")


@dataclass(frozen=True)
class Stamp:
    """A gateway's signature headers, checked; what remains is whether they sign the body,
    and are still recent once it is in."""

    key: bytes = field(repr=False, compare=False)
    message_id: str
    stamp: str  # webhook-timestamp, ASCII digits
    offered: tuple[str, ...]  # the `v1,` entries
    tolerance: timedelta

    def check_time(self, now: datetime) -> None:
        """Return if the stamp is within the tolerance of `now`; `SignatureError` if not."""
        moment = now if now.tzinfo else now.replace(tzinfo=UTC)
        if abs(moment.timestamp() - int(self.stamp)) > self.tolerance.total_seconds():
            raise SignatureError("webhook-timestamp is outside the tolerance")

    def verify(self, body: bytes, now: datetime) -> None:
        """Return if one of the offered signatures signs `body` and the stamp is still recent
        at `now`, once the body is in (one held back past the tolerance would replay an old
        capture); `SignatureError` if not."""
        self.check_time(now)
        expected = sign(self.key, self.message_id, int(self.stamp), body).encode()
        # compare with every entry, in constant time each, and only then decide
        matches = [hmac.compare_digest(expected, entry.encode()) for entry in self.offered]
        if not any(matches):
            raise SignatureError("no webhook-signature matches")
