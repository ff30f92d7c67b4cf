"""Our Standard Webhooks signer, checked by the standard's own library, as a client checks it."""

from __future__ import annotations

import json
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from delivery.webhooks.signing import (
    WebhookSecretError,
    generate_webhook_secret,
    secret_key_bytes,
    sign,
    signature,
)

# the example of the Standard Webhooks specification's reference implementations
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
BODY = json.dumps({"type": "notification.status", "data": {"status": "delivered"}}).encode()


def test_the_specifications_example_signs_the_same() -> None:
    assert signature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_the_standards_library_verifies_our_headers() -> None:
    secret = generate_webhook_secret()
    headers = sign(secret, "evt_1", int(time.time()), BODY)

    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    assert headers["webhook-id"] == "evt_1"


def test_a_changed_body_or_another_secret_fails_verification() -> None:
    secret = generate_webhook_secret()
    headers = sign(secret, "evt_1", int(time.time()), BODY)

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"delivered", b"read"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_webhook_secret()).verify(BODY, headers)


def test_an_old_timestamp_is_refused_by_the_client() -> None:
    secret = generate_webhook_secret()
    headers = sign(secret, "evt_1", int(time.time()) - 3_600, BODY)

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, headers)


def test_a_secret_is_whsec_and_32_random_bytes() -> None:
    first, second = generate_webhook_secret(), generate_webhook_secret()

    assert first.startswith("whsec_") and first != second
    assert len(secret_key_bytes(first)) == 32


@pytest.mark.parametrize("bad", ["whsec_not base64!", "whsec_" + "QUFB" * 2])
def test_a_malformed_or_short_secret_is_refused(bad: str) -> None:
    with pytest.raises(WebhookSecretError):
        sign(bad, "evt_1", 0, BODY)


def test_an_event_id_with_a_dot_is_refused() -> None:
    with pytest.raises(ValueError, match="no dot"):
        sign(generate_webhook_secret(), "evt.1", 0, BODY)
