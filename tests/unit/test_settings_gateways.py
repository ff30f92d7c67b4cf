"""The gateway settings: a gateway we send through has a base URL the calls' paths go under, a
token a header can carry and a secret its reports are signed with, or the settings are refused
up front, never quoting the token or the URL."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from pipelines.settings import load_settings

SMS_URL = "https://sms-gateway.example/v1"
SMS_SECRET = "whsec_" + base64.b64encode(b"sms-gateway-secret-32-bytes-long").decode()


def test_a_gateway_with_its_url_token_and_secret_is_taken() -> None:
    settings = load_settings(
        gateway_urls={"sms": SMS_URL},
        gateway_tokens={"sms": "t0ken~with.visible/ASCII+="},
        gateway_secrets={"sms": SMS_SECRET},
    )
    assert settings.gateway_urls == {"sms": SMS_URL}


def test_a_gateway_url_without_its_secret_is_refused() -> None:
    # every report it sent would be refused, and every notification would end as an SMS
    with pytest.raises(
        ValidationError, match=r"OWNERSHIP_GATEWAY_URLS of \['sms'\] need OWNERSHIP_GATEWAY_SECRETS"
    ):
        load_settings(gateway_urls={"sms": SMS_URL}, gateway_tokens={"sms": "t-sms"})


def test_a_secret_without_a_url_is_fine_for_a_gateway_that_only_reports() -> None:
    assert load_settings(gateway_secrets={"sms": SMS_SECRET}).gateway_urls == {}


@pytest.mark.parametrize(
    "token",
    ["s3cr3t-token\n", " s3cr3t-token", "s3cr3t token", "s3cr3t-tökén", "s3cr3t\t"],
    ids=["trailing newline", "leading space", "inner space", "not ASCII", "tab"],
)
def test_a_token_a_header_cannot_carry_is_refused_naming_the_channel_not_the_token(
    token: str,
) -> None:
    with pytest.raises(
        ValidationError, match=r"OWNERSHIP_GATEWAY_TOKENS\[sms\] must be visible ASCII"
    ) as bad:
        load_settings(
            gateway_urls={"sms": SMS_URL},
            gateway_tokens={"sms": token},
            gateway_secrets={"sms": SMS_SECRET},
        )
    # neither the message `ownership` prints nor the error's own text, a traceback's, holds it
    assert all("s3cr3t" not in problem["msg"] for problem in bad.value.errors())
    assert "s3cr3t" not in str(bad.value)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("https://u:s3cr3t@sms-gateway.example/v1", "a user name or password"),
        ("https://s3cr3t@sms-gateway.example/v1", "a user name or password"),
        ("https://@sms-gateway.example/v1", "a user name or password"),
        ("https://sms-gateway.example/v1?key=s3cr3t", "a query"),
        ("https://sms-gateway.example/v1?", "a query"),
        ("https://sms-gateway.example/v1#s3cr3t", "a fragment"),
    ],
    ids=["user and password", "user", "empty user", "query", "empty query", "fragment"],
)
def test_a_gateway_url_with_what_the_calls_cannot_carry_is_refused_pointing_to_the_tokens(
    url: str, complaint: str
) -> None:
    # user info would replace the bearer token (Basic auth); the calls' paths would land in
    # the query or the fragment, where a 404 would read as "the gateway took none"
    with pytest.raises(
        ValidationError,
        match=rf"the sms gateway's URL carries {complaint}.*OWNERSHIP_GATEWAY_TOKENS",
    ) as bad:
        load_settings(
            gateway_urls={"sms": url},
            gateway_tokens={"sms": "t-sms"},
            gateway_secrets={"sms": SMS_SECRET},
        )
    assert "s3cr3t" not in str(bad.value)
    assert len(bad.value.errors()) == 1
