"""Tokens, backoff, rate limits, SMS keywords, SendGrid event translation, mail payload (reputation: test_reputation_verdict)."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from outreach.channels.base import OutgoingMessage
from outreach.channels.rate_limit import TokenBucket
from outreach.channels.sendgrid import mail_payload
from outreach.outbox.backoff import retry_delay
from outreach.tokens import PREFERENCES, UNSUBSCRIBE, InvalidToken, make_token, read_token
from outreach.webhooks.sendgrid_events import InvalidProviderEvent, translate
from outreach.webhooks.sms_keywords import ReplyKind, classify_reply

SECRET = b"s" * 32
NOW = dt.datetime(2026, 11, 22, 12, tzinfo=dt.timezone.utc)


def test_token_round_trip():
    token = make_token(SECRET, purpose=UNSUBSCRIBE, customer_id="c1", now=NOW, channel="email", topic="marketing",
                       message_id="m1")
    claims = read_token(SECRET, token, purpose=UNSUBSCRIBE, now=NOW)
    assert (claims["customer_id"], claims["channel"], claims["topic"], claims["message_id"]) == (
        "c1", "email", "marketing", "m1")


def _tampered(token: str) -> str:
    body, signature = token.split(".")
    return f"{body[:-2]}AA.{signature}"


@pytest.mark.parametrize(
    ("change", "purpose", "at"),
    [
        # signed with another secret
        (lambda t: make_token(b"x" * 32, purpose=UNSUBSCRIBE, customer_id="c1", now=NOW), UNSUBSCRIBE, NOW),
        # payload edited after signing
        (_tampered, UNSUBSCRIBE, NOW),
        # an unsubscribe token does not open the preference page (single purpose)
        (lambda t: t, PREFERENCES, NOW),
        # expired
        (lambda t: t, UNSUBSCRIBE, NOW + dt.timedelta(days=91)),
        # garbage
        (lambda t: "not-a-token", UNSUBSCRIBE, NOW),
    ],
)
def test_bad_tokens_get_one_generic_error(change, purpose, at):
    token = change(make_token(SECRET, purpose=UNSUBSCRIBE, customer_id="c1", now=NOW))
    with pytest.raises(InvalidToken, match="invalid or expired link"):
        read_token(SECRET, token, purpose=purpose, now=at)


@pytest.mark.parametrize(
    ("attempt", "retry_after", "low", "high"),
    [
        (1, None, 5.0, 10.0),  # first retry: [base/2, base]
        (3, None, 20.0, 40.0),  # doubles per failure
        (20, None, 50.0, 100.0),  # capped
        (1, 60.0, 60.0, 60.0),  # never earlier than Retry-After
    ],
)
def test_retry_delay_bounds(attempt, retry_after, low, high):
    delays = [retry_delay(attempt, retry_after=retry_after, base=10, cap=100, rng=random.Random(seed))
              for seed in range(50)]
    assert low <= min(delays) and max(delays) <= high


def test_retry_delay_jitters():
    assert len({retry_delay(2, base=10, rng=random.Random(seed)) for seed in range(10)}) > 1


def test_token_bucket_refills_with_the_injected_clock():
    now = [0.0]
    bucket = TokenBucket(rate=2.0, capacity=2, clock=lambda: now[0])
    assert [bucket.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.5]
    now[0] = 0.5
    assert bucket.try_acquire() == 0.0


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        *[(word, ReplyKind.OPT_OUT) for word in
          ("STOP", "stopall", " Unsubscribe ", "cancel", "END", "quit.", "revoke", "OptOut", "s t o p")],
        *[(word, ReplyKind.OPT_IN) for word in ("START", "unstop", "yes")],
        ("help", ReplyKind.HELP), ("Info?", ReplyKind.HELP),
        # plain-language stops
        ("please stop texting me", ReplyKind.OPT_OUT), ("Don't text me again", ReplyKind.OPT_OUT),
        ("remove me from this list", ReplyKind.OPT_OUT),
        # everything else goes to a person
        ("where is my parcel?", ReplyKind.OTHER), ("stopped by the shop, thanks", ReplyKind.OTHER),
    ],
)
def test_classify_reply(text, kind):
    assert classify_reply(text) == kind


def _sg(event: str, **extra) -> dict:
    return {"event": event, "sg_event_id": f"id-{event}", "timestamp": 1_790_000_000, "email": "a@example.com",
            "message_id": "m1", **extra}


@pytest.mark.parametrize(
    ("raw", "suppression", "topic", "status"),
    [
        (_sg("delivered"), None, None, None),
        (_sg("bounce", type="bounce"), "hard_bounce", None, None),
        (_sg("bounce", type="blocked"), None, None, None),  # a temporary block is not a hard bounce
        (_sg("spamreport"), "spam_complaint", "*", "opted_out"),
        (_sg("unsubscribe"), None, "*", "opted_out"),
        (_sg("group_unsubscribe", asm_group_id=42), None, "marketing", "opted_out"),
        (_sg("group_unsubscribe", asm_group_id=7), None, "marketing:group-7", "opted_out"),
        (_sg("group_resubscribe", asm_group_id=42), None, "marketing", "opted_in"),
    ],
)
def test_translate_sendgrid_events(raw, suppression, topic, status):
    event = translate(raw, marketing_group_id=42)
    assert (event.suppression, event.consent_topic, event.consent_status) == (suppression, topic, status)
    assert event.event_key == f"sendgrid:{raw['sg_event_id']}"
    assert "a@example.com" not in repr(event)


def test_translate_ignores_unknown_and_refuses_unkeyed_events():
    assert translate({"event": "something_new"}) is None
    with pytest.raises(InvalidProviderEvent):
        translate({"event": "delivered", "timestamp": 1})


def test_mail_payload_keeps_addresses_out_of_labels():
    message = OutgoingMessage(message_id="m1", channel="email", to="ada@example.com", topic="service",
                              rule_id="late", subject="Late", body="Sorry")
    payload = mail_payload(message, from_email="n@example.com", asm_group_id=5)
    assert "ada@example.com" not in str(payload["custom_args"]) + str(payload["categories"])
    assert "asm" not in payload and "List-Unsubscribe" not in payload.get("headers", {})
    assert "ada@example.com" not in repr(message)
