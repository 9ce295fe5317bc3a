"""Channels from settings: the sink by default, providers only when their secrets are set."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from outreach.channels.from_settings import build_channels, build_limiters
from infra.settings import Settings


@pytest.mark.parametrize(
    ("overrides", "providers"),
    [
        # the embedded default: nothing leaves the machine
        ({}, {"email": "sink", "sms": "sink"}),
        # a SendGrid key switches e-mail only
        ({"sendgrid_api_key": SecretStr("SG.x")}, {"email": "sendgrid", "sms": "sink"}),
        # Twilio needs both the account sid and the token
        ({"twilio_account_sid": "AC1"}, {"email": "sink", "sms": "sink"}),
        ({"twilio_account_sid": "AC1", "twilio_auth_token": SecretStr("t"), "twilio_from_number": "+15005550006"},
         {"email": "sink", "sms": "twilio"}),
    ],
)
def test_build_channels(overrides, providers):
    channels = build_channels(Settings(**overrides).providers)
    assert {name: channel.provider for name, channel in channels.items()} == providers


def test_build_limiters_use_configured_rates():
    limiters = build_limiters(Settings(email_rate_per_second=5, sms_rate_per_second=0.5).providers)
    assert (limiters["email"].rate, limiters["sms"].rate) == (5, 0.5)
