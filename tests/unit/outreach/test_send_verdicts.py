"""The sender's per-row decisions over plain values (``outreach.outbox.send_verdicts``), table by table."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from outreach.channels.base import SendError, SendResult
from outreach.consent.contact_points import contact_hash
from outreach.consent.records import ContactPointRecord
from outreach.conversations.records import ANSWER_RULE_ID
from outreach.outbox.records import OutboxRecord
from outreach.outbox.send_verdicts import (
    CUSTOMER_NEVER_ARRIVED,
    WAITING_FOR_CUSTOMER,
    ChunkFacts,
    Recipient,
    RowWrite,
    consent_verdict,
    early_verdict,
    landing_of,
    recipient_of,
)
from outreach.outbox.sender_config import SenderConfig
from signals.records import CustomerRecord
from triggers.policy.consent import ConsentStatus
from triggers.policy.escalation import Escalation, InMemoryEscalations

NOW = dt.datetime(2026, 3, 2, 12, tzinfo=dt.timezone.utc)
CONFIG = SenderConfig(unsubscribe_secret=b"u" * 32, contact_hash_key=b"h" * 32, max_attempts=3,
                      backoff_base_seconds=10, backoff_cap_seconds=600)
KEY = CONFIG.contact_hash_key
OPTED_IN, OPTED_OUT = ConsentStatus.OPTED_IN, ConsentStatus.OPTED_OUT


def row(**values) -> OutboxRecord:
    fields = dict(message_id="m1", customer_id="c1", rule_id="late-notice", channel="email", topic="service",
                  state="pending", attempts=0, created_at=NOW - dt.timedelta(minutes=10),
                  expires_at=NOW + dt.timedelta(days=1), last_error=None)
    return OutboxRecord(**{**fields, **values})


KNOWN = ChunkFacts(customers={"c1": CustomerRecord(customer_id="c1", email="ada@example.com")})
PAUSED = ChunkFacts(paused={"late-notice": "complaints over the limit"}, customers=KNOWN.customers)
ESCALATED = ChunkFacts(customers=KNOWN.customers, escalations=InMemoryEscalations(
    {"c1": [Escalation(NOW - dt.timedelta(hours=1), "complaint", "conv-1")]}))
ESCALATED_LONG_AGO = ChunkFacts(customers=KNOWN.customers, escalations=InMemoryEscalations(
    {"c1": [Escalation(NOW - CONFIG.escalation_pause, "complaint", "conv-1")]}))
POINT_ONLY = ChunkFacts(contact_points={("c1", "email"): ContactPointRecord(customer_id="c1", channel="email",
                                                                           contact_hash="x" * 64, updated_at=NOW)})


@pytest.mark.parametrize("case, outbox_row, facts, expected", [
    ("nothing stops it", row(), KNOWN, None),
    ("a stored contact point is enough", row(), POINT_ONLY, None),
    ("moment passed", row(expires_at=NOW), KNOWN, ("suppressed", "expired")),
    ("moment passed while waiting for the customer", row(expires_at=NOW, last_error=WAITING_FOR_CUSTOMER),
     ChunkFacts(), ("suppressed", CUSTOMER_NEVER_ARRIVED)),
    ("expiry comes before the pause", row(expires_at=NOW - dt.timedelta(seconds=1)), PAUSED,
     ("suppressed", "expired")),
    ("rule paused", row(), PAUSED, ("suppressed", "rule paused: complaints over the limit")),
    ("reply escalated", row(), ESCALATED, ("suppressed", "conversation_escalated: complaint reply in "
                                           "conversation conv-1: automated outreach paused until "
                                           "2026-03-05T11:00:00+00:00")),
    ("a person's answer goes out anyway", row(rule_id=ANSWER_RULE_ID), ESCALATED, None),
    ("the pause ended (half-open)", row(), ESCALATED_LONG_AGO, None),
    ("customer never arrived, moment passed", row(expires_at=None, created_at=NOW - CONFIG.customer_wait),
     ChunkFacts(), ("suppressed", CUSTOMER_NEVER_ARRIVED)),
])
def test_early_verdict(case, outbox_row, facts, expected):
    verdict = early_verdict(outbox_row, facts, now=NOW, config=CONFIG)
    got = None if verdict is None else (verdict.state, verdict.values["last_error"])
    assert got == expected, case
    if verdict is not None:
        assert verdict.counted == verdict.state


@pytest.mark.parametrize("created_ago, expires_in, due_in", [
    (dt.timedelta(0), dt.timedelta(days=1), dt.timedelta(seconds=1)),  # at least a second
    (dt.timedelta(minutes=2), dt.timedelta(days=1), dt.timedelta(minutes=1)),  # half the wait so far
    (dt.timedelta(hours=3), dt.timedelta(days=1), dt.timedelta(minutes=5)),  # at most five minutes
    (dt.timedelta(hours=3), dt.timedelta(seconds=20), dt.timedelta(seconds=20)),  # never past the moment
])
def test_a_missing_customer_is_waited_for_in_growing_steps_until_the_moment(created_ago, expires_in, due_in):
    waiting = row(state="drafted", created_at=NOW - created_ago, expires_at=NOW + expires_in)
    verdict = early_verdict(waiting, ChunkFacts(), now=NOW, config=CONFIG)
    assert verdict == RowWrite("drafted", {"next_attempt_at": NOW + due_in, "last_error": WAITING_FOR_CUSTOMER})
    assert verdict.counted is None and verdict.columns(NOW)["lease_owner"] is None


def test_only_sending_keeps_the_lease():
    assert "lease_owner" not in RowWrite("sending").columns(NOW)
    assert RowWrite("sent").columns(NOW) | {"state": None} == {
        "state": None, "updated_at": NOW, "lease_owner": None, "lease_expires_at": None}


HASH = contact_hash(KEY, "email", "ada@example.com")


@pytest.mark.parametrize("channel, point, customer, expected", [
    ("email", ContactPointRecord(customer_id="c1", channel="email", address="ada@example.com", contact_hash="h1",
                                 updated_at=NOW), CustomerRecord(customer_id="c1", email="other@example.com"),
     Recipient("ada@example.com", "h1")),
    ("email", ContactPointRecord(customer_id="c1", channel="email", address=None, contact_hash="h1", updated_at=NOW),
     CustomerRecord(customer_id="c1", email="ada@example.com"), Recipient(None, "h1")),  # erased: hash stays
    ("email", None, CustomerRecord(customer_id="c1", email="ada@example.com"),
     Recipient("ada@example.com", HASH, new=True)),
    ("sms", None, CustomerRecord(customer_id="c1", email="ada@example.com"), Recipient(None, None)),
    ("sms", None, CustomerRecord(customer_id="c1", phone="12"), Recipient(None, None)),  # not a phone number
    ("email", None, CustomerRecord(customer_id="c1", email=""), Recipient(None, None)),
    ("email", None, None, Recipient(None, None)),
])
def test_recipient_of(channel, point, customer, expected):
    assert recipient_of(channel, point, customer, KEY) == expected


ADA = Recipient("ada@example.com", HASH)


@pytest.mark.parametrize("topic, recipient, stored, flags, suppression, expected", [
    ("service", ADA, {}, {}, None, None),
    ("service", Recipient(None, HASH), {}, {}, None, "no_contact_point"),
    ("service", ADA, {}, {}, "hard_bounce", "suppressed:hard_bounce"),
    ("service", Recipient(None, HASH), {}, {}, "hard_bounce", "no_contact_point"),
    ("service", ADA, {"*": OPTED_OUT}, {}, None, "opted_out"),
    ("marketing:news", ADA, {"marketing": OPTED_OUT}, {}, None, "opted_out"),
    ("service", ADA, {}, {"email_service_consent": False}, None, "opted_out"),  # upstream, store silent
    ("service", ADA, {"service": OPTED_IN}, {"email_service_consent": False}, None, None),  # the store decides
    ("service", ADA, {"marketing": OPTED_OUT}, {}, None, None),  # another topic's row
])
def test_consent_verdict(topic, recipient, stored, flags, suppression, expected):
    customer = CustomerRecord(customer_id="c1", email="ada@example.com", **flags)
    assert consent_verdict(row(topic=topic), recipient, stored=stored, customer=customer, suppression=suppression,
                           marketing_email_requires_opt_in=False) == expected


@pytest.mark.parametrize("attempts, outcome, state, counted, error", [
    (0, SendResult("sendgrid", "p-1"), "sent", "sent", None),
    (0, SendError("stop", retryable=False, code="21610", opted_out=True), "suppressed", "suppressed", "stop [21610]"),
    (0, SendError("timed out", retryable=False, code="timeout", uncertain=True), "held_for_review",
     "held_for_review", "uncertain: timed out [timeout]"),
    (0, SendError("busy", retryable=True, code="503"), "drafted", "retry", "busy [503]"),
    (CONFIG.max_attempts - 1, SendError("busy", retryable=True, code="503"), "failed", "failed", "busy [503]"),
    (0, SendError("bad address", retryable=False, code="400"), "failed", "failed", "bad address [400]"),
])
def test_landing_of(attempts, outcome, state, counted, error):
    landing = landing_of(row(state="sending", attempts=attempts), outcome, now=NOW, config=CONFIG,
                         rng=random.Random(0))
    assert (landing.write.state, landing.write.counted, landing.write.values.get("last_error")) == (
        state, counted, error)
    assert landing.opted_out == (state == "suppressed")
    if counted == "retry":
        assert NOW < landing.write.values["next_attempt_at"] <= NOW + dt.timedelta(seconds=10)


def test_a_retry_waits_at_least_what_the_provider_asked():
    busy = SendError("slow down", retryable=True, code="429", retry_after=120)
    landing = landing_of(row(state="sending"), busy, now=NOW, config=CONFIG, rng=random.Random(0))
    assert landing.write.values["next_attempt_at"] == NOW + dt.timedelta(seconds=120)
