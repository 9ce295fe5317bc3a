"""Outbox and sender on a real database against the fake providers: once, consented, or not at all."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlmodel import Session

from outreach.channels.base import OutgoingMessage, SendResult
from outreach.channels.rate_limit import TokenBucket
from outreach.channels.sendgrid import SendGridChannel
from outreach.channels.sink import SinkChannel
from outreach.channels.twilio import TwilioChannel
from outreach.consent.erasure import erase_customer
from outreach.consent.records import ContactPointRecord
from outreach.consent.service import consent_status, history, record_consent
from outreach.outbox import service as outbox
from outreach.outbox.records import OutboxRecord, RulePauseRecord
from outreach.outbox.sender import Sender
from signals.records import CustomerRecord
from tests.fakes.http_server import Fault
from tests.fakes.outreach_world import CONFIG, T0, add_customer, composed, decision, simple_compose, sqlite_engine
from tests.fakes.sendgrid_api import FakeSendGrid
from tests.fakes.twilio_api import FakeTwilio, twilio_error

pytestmark = pytest.mark.integration

EMAIL, PHONE = "ada@example.com", "+4915112345678"


@pytest.fixture
def engine(tmp_path):
    eng = sqlite_engine(tmp_path)
    add_customer(eng, "c1", email=EMAIL, phone=PHONE, sms_marketing=True)
    yield eng
    eng.dispose()


@pytest.fixture
def sendgrid():
    with FakeSendGrid() as fake:
        yield fake


@pytest.fixture
def twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def channels(sendgrid, twilio):
    return {
        "email": SendGridChannel(sendgrid.api_key, from_email="n@example.com", host=sendgrid.url, timeout=0.5),
        "sms": TwilioChannel(twilio.account_sid, twilio.auth_token, messaging_service_sid="MG" + "1" * 32,
                             base_url=twilio.url, timeout=0.5),
    }


def _sender(engine, channels, **options) -> Sender:
    return Sender(engine, channels=channels, compose=simple_compose, config=CONFIG, rng=random.Random(1), **options)


def _enqueue(engine, *decisions) -> list[str | None]:
    with Session(engine) as session:
        ids = [outbox.enqueue(session=session, decision=d, now=T0) for d in decisions]
        session.commit()
    return ids


def _rows(engine) -> list[OutboxRecord]:
    with Session(engine) as session:
        return outbox.list_messages(session=session)


def test_same_decision_twice_yields_one_message(engine, channels, sendgrid):
    first, again = _enqueue(engine, decision("c1"), decision("c1"))
    assert first is not None and again is None
    sender = _sender(engine, channels)
    for minute in range(3):  # repeated passes (a redelivered decision, a second sweep) change nothing
        sender.run_once(T0 + dt.timedelta(minutes=minute))
    assert len(sendgrid.sent_to(EMAIL)) == 1
    [row] = _rows(engine)
    assert row.state == "sent" and row.provider_message_id and row.body.startswith("Hi Ada")


class DiesAfterProviderCall:
    """A channel whose process dies after the provider accepted, before the result is recorded."""

    def __init__(self, inner):
        self.inner, self.name, self.provider = inner, inner.name, inner.provider

    def send(self, message: OutgoingMessage) -> SendResult:
        self.inner.send(message)
        raise KeyboardInterrupt("killed")  # not an Exception: nothing in the sender may swallow it

    def lookup(self, message_id: str):
        return self.inner.lookup(message_id)


def test_killed_between_provider_call_and_commit_sends_no_duplicate(engine, channels, sendgrid):
    _enqueue(engine, decision("c1"))
    dying = _sender(engine, {"email": DiesAfterProviderCall(channels["email"])})
    with pytest.raises(KeyboardInterrupt):
        dying.run_once(T0)
    assert [r.state for r in _rows(engine)] == ["sending"]
    restarted = _sender(engine, channels)
    restarted.run_once(T0 + dt.timedelta(seconds=10))  # the dead sender's lease still holds
    assert [r.state for r in _rows(engine)] == ["sending"]
    report = restarted.run_once(T0 + CONFIG.lease + dt.timedelta(seconds=1))
    assert report.counts == {"held_for_review": 1}  # SendGrid cannot look our id up: held, not re-sent
    restarted.run_once(T0 + dt.timedelta(hours=2))
    assert len(sendgrid.accepted) == 1


def test_killed_sink_send_is_reconciled_by_lookup(engine):
    sink = SinkChannel("email")
    _enqueue(engine, decision("c1"))
    with pytest.raises(KeyboardInterrupt):
        _sender(engine, {"email": DiesAfterProviderCall(sink)}).run_once(T0)
    _sender(engine, {"email": sink}).run_once(T0 + CONFIG.lease + dt.timedelta(seconds=1))
    assert [r.state for r in _rows(engine)] == ["sent"] and len(sink.delivered) == 1


def test_rate_limited_send_waits_for_retry_after_then_goes_once(engine, channels, sendgrid):
    _enqueue(engine, decision("c1"))
    sendgrid.script(Fault(429, {"errors": [{"message": "slow down"}]}, {"Retry-After": "120"}))
    sender = _sender(engine, channels)
    assert sender.run_once(T0).counts == {"retry": 1}
    [row] = _rows(engine)
    assert row.state == "drafted" and row.next_attempt_at >= T0 + dt.timedelta(seconds=120)
    assert sender.run_once(T0 + dt.timedelta(seconds=60)).counts == {}  # not due yet
    assert sender.run_once(T0 + dt.timedelta(seconds=121)).counts == {"sent": 1}
    assert len(sendgrid.accepted) == 1


def test_server_errors_are_retried_until_the_limit_then_failed(engine, channels, sendgrid):
    _enqueue(engine, decision("c1"))
    sendgrid.script(*[Fault(503, {"errors": [{"message": "down"}]})] * CONFIG.max_attempts)
    sender = _sender(engine, channels)
    at = T0
    for _ in range(CONFIG.max_attempts):
        sender.run_once(at)
        at += dt.timedelta(seconds=CONFIG.backoff_cap_seconds + 1)
    [row] = _rows(engine)
    assert (row.state, row.attempts) == ("failed", CONFIG.max_attempts)
    assert sendgrid.accepted == []


def test_slow_provider_leaves_the_message_held_not_resent(engine, channels, twilio):
    _enqueue(engine, decision("c1", channel="sms"))
    twilio.script(Fault(slow=True))
    sender = _sender(engine, channels)
    assert sender.run_once(T0).counts == {"held_for_review": 1}
    sender.run_once(T0 + dt.timedelta(hours=1))
    assert len(twilio.requests) == 1


def test_carrier_opt_out_21610_is_recorded_and_stops_later_sms(engine, channels, twilio):
    twilio.script(Fault(400, twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")))
    _enqueue(engine, decision("c1", channel="sms"))
    sender = _sender(engine, channels)
    report = sender.run_once(T0)
    assert report.counts == {"suppressed": 1} and len(report.consent_changes) == 1
    _enqueue(engine, decision("c1", channel="sms", episode="e2"))
    sender.run_once(T0 + dt.timedelta(minutes=1))
    assert len(twilio.requests) == 1  # the second message never reached the provider
    with Session(engine) as session:
        assert consent_status(session=session, customer_id="c1", channel="sms", topic="service").value == "opted_out"


def test_consent_is_rechecked_at_send_time(engine, channels, sendgrid):
    _enqueue(engine, decision("c1"))  # decided while the customer was reachable
    with Session(engine) as session:
        record_consent(session=session, customer_id="c1", channel="email", topic="*", status="opted_out",
                       source="test", changed_at=T0)
        session.commit()
    _sender(engine, channels).run_once(T0)
    [row] = _rows(engine)
    assert (row.state, row.last_error) == ("suppressed", "opted_out") and sendgrid.requests == []


def test_marketing_sms_without_opt_in_is_suppressed(engine, channels, twilio):
    add_customer(engine, "c2", phone="+4915187654321")  # no sms_marketing opt-in upstream
    _enqueue(engine, decision("c2", channel="sms", topic="marketing", rule_id="winback"))
    _sender(engine, channels).run_once(T0)
    assert [(r.state, r.last_error) for r in _rows(engine)] == [("suppressed", "no_opt_in")]
    assert twilio.requests == []


def test_approval_holds_the_draft_until_approved(engine, channels, sendgrid):
    [message_id] = _enqueue(engine, decision("c1", requires_approval=True))
    sender = _sender(engine, channels)
    assert sender.run_once(T0).counts == {"awaiting_approval": 1}
    sender.run_once(T0 + dt.timedelta(minutes=1))
    assert sendgrid.accepted == []
    with Session(engine) as session:
        assert outbox.approve(session=session, message_id=message_id, now=T0 + dt.timedelta(minutes=2))
        session.commit()
    assert sender.run_once(T0 + dt.timedelta(minutes=2)).counts == {"sent": 1}


def test_rate_limit_defers_the_excess(engine, channels, sendgrid):
    add_customer(engine, "c2", email="bob@example.com")
    _enqueue(engine, decision("c1"), decision("c2"))
    clock = [0.0]
    sender = _sender(engine, channels, limiters={"email": TokenBucket(rate=1.0, capacity=1, clock=lambda: clock[0])})
    assert sender.run_once(T0).counts == {"sent": 1}
    clock[0] = 1.0
    assert sender.run_once(T0 + dt.timedelta(seconds=1)).counts == {"sent": 1}
    assert len(sendgrid.accepted) == 2


def test_expired_moment_and_paused_rule_are_not_sent(engine, channels, sendgrid):
    _enqueue(engine, decision("c1", expires_at=T0 - dt.timedelta(minutes=1)),
             decision("c1", rule_id="paused-rule", episode="e2"))
    with Session(engine) as session:
        session.add(RulePauseRecord(rule_id="paused-rule", reason="spam-complaint rate", sends=100,
                                    complaint_rate=0.02, opt_out_rate=0.0, paused_at=T0))
        session.commit()
    _sender(engine, channels).run_once(T0)
    assert sorted(r.last_error for r in _rows(engine)) == ["expired", "rule paused: spam-complaint rate"]
    assert sendgrid.requests == []


def test_erasure_removes_personal_data_and_keeps_the_suppression(engine, channels, sendgrid):
    _enqueue(engine, decision("c1"))
    sender = _sender(engine, channels)
    sender.run_once(T0)
    with Session(engine) as session:
        erase_customer(session=session, customer_id="c1", now=T0 + dt.timedelta(hours=1))
        session.commit()
    with Session(engine) as session:
        customer = session.get(CustomerRecord, "c1")
        assert (customer.email, customer.phone, customer.first_name) == (None, None, None)
        assert session.get(ContactPointRecord, ("c1", "email")).address is None
        assert all(r.body is None for r in outbox.list_messages(session=session, customer_id="c1"))
    # the same address arrives again under a new customer id: still never contacted
    add_customer(engine, "c1-new", email=EMAIL.upper())
    _enqueue(engine, decision("c1-new", episode="e9"))
    sender.run_once(T0 + dt.timedelta(hours=2))
    assert len(sendgrid.accepted) == 1
    assert [r.last_error for r in _rows(engine) if r.customer_id == "c1-new"] == ["suppressed:erased"]


def test_consent_history_is_append_only(engine):
    with Session(engine) as session:
        for status, minute in (("opted_in", 0), ("opted_out", 1), ("opted_in", 2)):
            record_consent(session=session, customer_id="c1", channel="email", topic="marketing", status=status,
                           source="test", changed_at=T0 + dt.timedelta(minutes=minute))
        # a late, older change is kept in history but does not overwrite the newer state
        record_consent(session=session, customer_id="c1", channel="email", topic="marketing", status="opted_out",
                       source="late", changed_at=T0 - dt.timedelta(days=1))
        session.commit()
        assert [h.status for h in history(session=session, customer_id="c1")] == [
            "opted_out", "opted_in", "opted_out", "opted_in"]
        assert consent_status(session=session, customer_id="c1", channel="email", topic="marketing").value == "opted_in"


def test_database_consent_view_serves_the_decision_policy(engine, channels, twilio):
    from outreach.consent.service import DatabaseConsentView

    view = DatabaseConsentView(engine)
    # upstream opt-in counts while the store is silent
    assert view.status("c1", "sms", "marketing").value == "opted_in"
    twilio.script(Fault(400, twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")))
    _enqueue(engine, decision("c1", channel="sms"))
    _sender(engine, channels).run_once(T0)
    # the carrier opt-out now wins over the upstream opt-in, for every topic
    assert view.status("c1", "sms", "marketing").value == "opted_out"
    assert view.status("c1", "email", "service").value == "unknown"


def test_enqueue_engaging_skips_other_outcomes_and_repeats(engine):
    engaged = decision("c1")
    held_out = engaged.model_copy(update={"outcome": "holdout", "reason": "holdout", "episode_key": "x"})
    with Session(engine) as session:
        first = outbox.enqueue_engaging(session=session, decisions=[engaged.to_dict(), held_out], now=T0)
        again = outbox.enqueue_engaging(session=session, decisions=[engaged], now=T0)
        session.commit()
    assert len(first) == 1 and again == [] and len(_rows(engine)) == 1


def test_a_drafter_that_raises_fails_the_row_instead_of_looping(engine, sendgrid, channels):
    def broken(decision, **links):
        raise RuntimeError("template missing")

    _enqueue(engine, decision("c1"))
    sender = Sender(engine, channels=channels, compose=broken, config=CONFIG)
    assert sender.run_once(T0).counts == {"failed": 1}
    assert sender.run_once(T0 + dt.timedelta(hours=1)).counts == {}
    assert sendgrid.requests == []


def test_a_draft_that_failed_its_guardrails_is_held_for_review_not_sent(engine, channels, sendgrid):
    add_customer(engine, "c1", email=EMAIL)
    _enqueue(engine, decision("c1"))

    def failing(decision, **links):  # what compose returns when even the template broke a guardrail
        return composed(decision, "Your order", "20% off today!", passed=False)

    sender = Sender(engine, channels=channels, compose=failing, config=CONFIG)
    assert sender.run_once(T0).counts == {"held_for_review": 1}
    sender.run_once(T0 + dt.timedelta(hours=1))
    assert sendgrid.accepted == []
    [row] = _rows(engine)
    assert row.state == "held_for_review"
