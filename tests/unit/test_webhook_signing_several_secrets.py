"""A delivery signed under several secrets, as while a client moves to a renewed one: the
standard's library accepts it under any of them, and under no other."""

from __future__ import annotations

import json
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from delivery.webhooks.signing import generate_webhook_secret, sign, signature

BODY = json.dumps({"type": "notification.status", "data": {"status": "delivered"}}).encode()


def test_headers_signed_under_the_new_and_the_old_secret_verify_with_either() -> None:
    new, old = generate_webhook_secret(), generate_webhook_secret()

    headers = sign((new, old), "evt_1", int(time.time()), BODY)

    assert Webhook(new).verify(BODY, headers) == json.loads(BODY)
    assert Webhook(old).verify(BODY, headers) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_webhook_secret()).verify(BODY, headers)


def test_the_signatures_are_space_separated_in_the_order_of_the_secrets() -> None:
    new, old = generate_webhook_secret(), generate_webhook_secret()

    headers = sign([new, old], "evt_1", 1_700_000_000, BODY)

    assert headers["webhook-signature"] == " ".join(
        signature(secret, "evt_1", 1_700_000_000, BODY) for secret in (new, old)
    )


def test_one_secret_given_alone_or_in_a_tuple_signs_the_same() -> None:
    secret = generate_webhook_secret()

    assert sign(secret, "evt_1", 0, BODY) == sign((secret,), "evt_1", 0, BODY)


def test_signing_under_no_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        sign((), "evt_1", 0, BODY)
