"""SendGrid and Twilio channels through the official clients against local fake APIs."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from outreach.channels.base import OutgoingMessage, SendError
from outreach.channels.sendgrid import SendGridChannel
from outreach.channels.twilio import TwilioChannel
from tests.fakes.http_server import Fault
from tests.fakes.sendgrid_api import FakeSendGrid
from tests.fakes.twilio_api import FakeTwilio, twilio_error

pytestmark = pytest.mark.integration

CLIENT_TIMEOUT = 0.5  # the fakes hold "slow" answers far longer than this


@pytest.fixture
def sendgrid():
    with FakeSendGrid() as fake:
        yield fake


@pytest.fixture
def twilio():
    with FakeTwilio() as fake:
        yield fake


def _email(topic: str = "marketing", **overrides) -> OutgoingMessage:
    values = dict(message_id="m" * 32, channel="email", to="ada@example.com", topic=topic, rule_id="winback",
                  subject="We miss you", body="Hello Ada", unsubscribe_url="http://127.0.0.1/outreach/unsubscribe?t=x")
    values.update(overrides)
    return OutgoingMessage(**values)


def _sms(**overrides) -> OutgoingMessage:
    values = dict(message_id="s" * 32, channel="sms", to="+4915112345678", topic="service", rule_id="late",
                  body="Your parcel is late. Reply STOP to opt out.", status_callback_url="http://127.0.0.1/cb")
    values.update(overrides)
    return OutgoingMessage(**values)


def _sendgrid_channel(fake: FakeSendGrid, key: str | None = None) -> SendGridChannel:
    return SendGridChannel(key or fake.api_key, from_email="news@example.com", asm_group_id=42, host=fake.url,
                           timeout=CLIENT_TIMEOUT)


def _twilio_channel(fake: FakeTwilio) -> TwilioChannel:
    return TwilioChannel(fake.account_sid, fake.auth_token, messaging_service_sid="MG" + "1" * 32,
                         validity_period=3600, base_url=fake.url, timeout=CLIENT_TIMEOUT)


def test_sendgrid_send_carries_ids_headers_and_group(sendgrid):
    result = _sendgrid_channel(sendgrid).send(_email())
    assert result.provider == "sendgrid" and result.provider_message_id
    [payload] = sendgrid.accepted
    assert payload["custom_args"] == {"message_id": "m" * 32, "rule_id": "winback"}
    assert payload["categories"] == ["winback", "marketing"]
    assert payload["headers"]["List-Unsubscribe"] == "<http://127.0.0.1/outreach/unsubscribe?t=x>"
    assert payload["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert payload["asm"] == {"group_id": 42}
    assert "mail_settings" not in payload


def test_sendgrid_service_mail_has_no_marketing_group(sendgrid):
    _sendgrid_channel(sendgrid).send(_email(topic="service"))
    assert "asm" not in sendgrid.accepted[0]


@pytest.mark.parametrize(
    ("fault", "retryable", "retry_after", "uncertain"),
    [
        # rate limited: retry, not before Retry-After
        (Fault(429, {"errors": [{"message": "too many requests"}]}, {"Retry-After": "7"}), True, 7.0, False),
        # provider trouble: retry with backoff
        (Fault(503, {"errors": [{"message": "unavailable"}]}), True, None, False),
        # a bad request never gets better
        (Fault(400, {"errors": [{"message": "bad"}]}), False, None, False),
        # no answer within the timeout: it may have been accepted, so never retried blindly
        (Fault(slow=True), False, None, True),
    ],
)
def test_sendgrid_errors_are_classified(sendgrid, fault, retryable, retry_after, uncertain):
    sendgrid.script(fault)
    with pytest.raises(SendError) as raised:
        _sendgrid_channel(sendgrid).send(_email())
    assert (raised.value.retryable, raised.value.retry_after, raised.value.uncertain) == (retryable, retry_after, uncertain)


def test_sendgrid_wrong_key_is_refused(sendgrid):
    with pytest.raises(SendError) as raised:
        _sendgrid_channel(sendgrid, key="SG.wrong").send(_email())
    assert raised.value.status == 401 and not raised.value.retryable
    assert sendgrid.accepted == []


def test_twilio_send_uses_service_validity_callback_and_smart_encoding(twilio):
    result = _twilio_channel(twilio).send(_sms())
    assert result.provider_message_id.startswith("SM")
    form = dict(parse_qsl(twilio.requests[0]["body"].decode()))
    assert form["MessagingServiceSid"].startswith("MG")
    assert form["ValidityPeriod"] == "3600"
    assert form["SmartEncoded"] == "true"
    assert form["StatusCallback"] == "http://127.0.0.1/cb"


@pytest.mark.parametrize(
    ("fault", "retryable", "opted_out", "retry_after", "uncertain"),
    [
        # Twilio's own rate limit (20429, HTTP 429): retried after Retry-After
        (Fault(429, twilio_error(429, 20429, "Too Many Requests"), {"Retry-After": "3"}), True, False, 3.0, False),
        # server error: retried
        (Fault(500, twilio_error(500, 20500, "Internal Server Error")), True, False, None, False),
        # the recipient replied STOP at the carrier: an opt-out, never retried
        (Fault(400, twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")), False, True, None, False),
        # a slow answer: uncertain, held for review
        (Fault(slow=True), False, False, None, True),
    ],
)
def test_twilio_errors_are_classified(twilio, fault, retryable, opted_out, retry_after, uncertain):
    twilio.script(fault)
    with pytest.raises(SendError) as raised:
        _twilio_channel(twilio).send(_sms())
    error = raised.value
    assert (error.retryable, error.opted_out, error.retry_after, error.uncertain) == (
        retryable, opted_out, retry_after, uncertain)


def test_twilio_wrong_token_is_refused(twilio):
    channel = TwilioChannel(twilio.account_sid, "wrong", from_number="+15005550006", base_url=twilio.url,
                            timeout=CLIENT_TIMEOUT)
    with pytest.raises(SendError) as raised:
        channel.send(_sms())
    assert raised.value.status == 401 and twilio.accepted == []


def test_sendgrid_html_alternative_follows_the_text(sendgrid):
    _sendgrid_channel(sendgrid).send(_email(html="<p>Hello Ada</p>"))
    assert [c["type"] for c in sendgrid.accepted[0]["content"]] == ["text/plain", "text/html"]


def test_provider_clients_log_no_addresses(sendgrid, twilio, caplog):
    caplog.set_level("DEBUG")
    _sendgrid_channel(sendgrid).send(_email())
    _twilio_channel(twilio).send(_sms())
    assert "ada@example.com" not in caplog.text and "+4915112345678" not in caplog.text
    assert "15112345678" not in caplog.text  # nor URL-encoded
