"""A message queued before a customer's complaint does not go out after it: the sender re-checks the escalation.

The decision-time policy stops new decisions once a reply escalated; these rows were decided (or
drafted, or waiting for approval) before the reply came in, so only the send-time check holds them.
A person's answer to that customer is what the pause is for: it still goes out.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

import pytest
from sqlmodel import Session

from infra.settings import Settings
from outreach.channels.sink import SinkChannel
from outreach.conversations.answers import send_answer
from outreach.conversations.records import OPEN, ConversationRecord
from outreach.outbox import service as outbox
from outreach.outbox.records import OutboxRecord
from outreach.outbox.sender import Sender
from tests.fakes.outreach_world import CONFIG, T0, add_customer, decision, simple_compose, sqlite_engine

pytestmark = pytest.mark.integration

EMAIL = "ada@example.com"
ANSWER = "Hi Ada, I am sorry about the trouble. A colleague is looking at your order and will write back today."


@pytest.fixture
def engine(tmp_path):
    eng = sqlite_engine(tmp_path)
    add_customer(eng, "c1", email=EMAIL)
    add_customer(eng, "c2", email="bob@example.com")
    yield eng
    eng.dispose()


@pytest.fixture
def sinks():
    return {"email": SinkChannel("email"), "sms": SinkChannel("sms")}


def sender(engine, sinks) -> Sender:
    return Sender(engine, channels=sinks, compose=simple_compose, config=CONFIG, rng=random.Random(0))


def escalate(engine, customer_id: str, at: dt.datetime, reason: str = "complaint") -> str:
    """A conversation whose reply escalated at ``at`` (as the inbound flow stores it)."""
    conversation_id = uuid.uuid4().hex
    with Session(engine) as session:
        session.add(ConversationRecord(
            conversation_id=conversation_id, customer_id=customer_id, channel="email", status=OPEN, intent=reason,
            sentiment="negative", frustrated=True, language="en", priority=3, replies=1, opened_at=at,
            last_inbound_at=at, waiting_since=at, escalated_at=at, escalation_reason=reason, updated_at=at))
        session.commit()
    return conversation_id


def enqueue(engine, *decisions) -> list[str]:
    with Session(engine) as session:
        ids = [outbox.enqueue(session=session, decision=d, now=T0) for d in decisions]
        session.commit()
    return ids


def row(engine, message_id: str) -> OutboxRecord:
    with Session(engine) as session:
        return session.get(OutboxRecord, message_id)


def test_a_queued_message_is_suppressed_when_a_complaint_arrived_before_its_send(engine, sinks):
    [queued] = enqueue(engine, decision("c1"))  # decided before the customer complained
    [other] = enqueue(engine, decision("c2"))  # another customer, nothing escalated
    conversation = escalate(engine, "c1", T0 + dt.timedelta(minutes=1))
    sender(engine, sinks).run_once(T0 + dt.timedelta(minutes=2))
    held = row(engine, queued)
    assert held.state == "suppressed" and held.last_error.startswith("conversation_escalated")
    assert conversation in held.last_error  # the reason names the conversation a person handles
    assert row(engine, other).state == "sent"
    assert [m.to for m in sinks["email"].delivered] == ["bob@example.com"]


def test_a_draft_awaiting_approval_is_not_sent_after_the_complaint_even_when_approved(engine, sinks):
    [waiting] = enqueue(engine, decision("c1", requires_approval=True))
    send = sender(engine, sinks)
    assert send.run_once(T0).counts == {"awaiting_approval": 1}
    escalate(engine, "c1", T0 + dt.timedelta(minutes=5), reason="cancellation")
    with Session(engine) as session:  # a reviewer approves it, not knowing about the reply
        assert outbox.approve(session=session, message_id=waiting, now=T0 + dt.timedelta(minutes=6))
        session.commit()
    assert send.run_once(T0 + dt.timedelta(minutes=6)).counts == {"suppressed": 1}
    assert row(engine, waiting).last_error.startswith("conversation_escalated") and sinks["email"].delivered == []


def test_the_pause_ends_and_escalations_after_the_send_moment_do_not_count(engine, sinks):
    long_ago, later = enqueue(engine, decision("c1"), decision("c2"))
    escalate(engine, "c1", T0 - dt.timedelta(hours=72))  # the pause is half-open: it ends exactly now
    escalate(engine, "c2", T0 + dt.timedelta(hours=1))  # after the send moment: not seen
    sender(engine, sinks).run_once(T0)
    assert (row(engine, long_ago).state, row(engine, later).state) == ("sent", "sent")


def test_a_persons_answer_to_the_escalated_customer_still_goes_out(engine, sinks):
    conversation = escalate(engine, "c1", T0)
    with Session(engine) as session:
        sent = send_answer(session=session, conversation_id=conversation, text=ANSWER, subject=None, author="agent",
                           form_key="form-1", now=T0, settings=Settings().conversations)
        session.commit()
    sender(engine, sinks).run_once(T0 + dt.timedelta(minutes=1))
    assert row(engine, sent.message_id).state == "sent"
    [message] = sinks["email"].delivered
    assert message.to == EMAIL and message.body.startswith(ANSWER)
