"""Standard Webhooks signatures (https://www.standardwebhooks.com): what a client verifies.

A delivery carries three headers: `webhook-id` (the event id, the same on every retry, so the
client can drop repeats), `webhook-timestamp` (seconds since the epoch, when this attempt was
signed, so the client can refuse replays of old deliveries) and `webhook-signature`
(`v1,` + base64 of HMAC-SHA256 over `id.timestamp.body` under the client's secret).
A secret is `whsec_` + base64 of its key bytes, the form the standard's libraries take.

While a client moves to a renewed secret, the header carries one signature under each secret,
space-separated (`v1,<new> v1,<old>`); the standard's libraries accept a delivery when any one
of them matches, so the client verifies with whichever secret it has deployed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime
from secrets import token_bytes

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the standard asks for 24 to 64
SIGNATURE_VERSION = "v1"


class WebhookSecretError(ValueError):
    """A webhook secret is not `whsec_` + base64 of 24 to 64 bytes."""


def generate_webhook_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key_bytes(secret: str) -> bytes:
    """The key bytes of a `whsec_…` secret (the prefix is optional, as in the standard)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise WebhookSecretError("a webhook secret is whsec_ and base64") from error
    if not 24 <= len(key) <= 64:
        raise WebhookSecretError(f"a webhook secret has 24 to 64 bytes, not {len(key)}")
    return key


def signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` over `event_id.timestamp.body`."""
    if "." in event_id:
        # the id ends at the first dot of the signed content; a dot in it would let two
        # (id, timestamp) pairs share one signature
        raise ValueError(f"an event id has no dot: {event_id!r}")
    content = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key_bytes(secret), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def sign(
    secrets: str | Sequence[str], event_id: str, timestamp: datetime | int, body: bytes
) -> dict[str, str]:
    """The headers of one delivery attempt of `body`, signed at `timestamp` under one secret,
    or under each of several, in their order (the current secret first)."""
    chosen = (secrets,) if isinstance(secrets, str) else tuple(secrets)
    if not chosen:
        raise ValueError("a delivery is signed under at least one secret")
    seconds = timestamp if isinstance(timestamp, int) else int(timestamp.timestamp())
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(seconds),
        "webhook-signature": " ".join(
            signature(secret, event_id, seconds, body) for secret in chosen
        ),
    }
