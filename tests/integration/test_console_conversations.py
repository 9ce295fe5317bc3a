"""The conversations inbox through the console's API and pages: queue, context, answers sent once, roles."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlmodel import Session, select

from outreach.channels.sink import SinkChannel
from outreach.conversations.measures import duration_text
from outreach.conversations.records import ConversationRecord
from outreach.outbox.records import OutboxRecord
from outreach.outbox.sender import Sender, SenderConfig
from tests.fakes.console_world import build_world, seed_conversations
from tests.integration.test_console_access import log_in

pytestmark = pytest.mark.integration
GOOD = "Hi Ada, thanks for asking. A colleague is checking where your order is and will write back soon."


@pytest.fixture
def world(tmp_path):
    world = build_world(tmp_path)
    world.conversations = seed_conversations(world.engine)
    return world


def sender(world) -> tuple[Sender, dict[str, SinkChannel]]:
    sinks = {"email": SinkChannel("email"), "sms": SinkChannel("sms")}
    settings = world.settings
    config = SenderConfig(unsubscribe_secret=settings.unsubscribe_secret.get_secret_value().encode(),
                          contact_hash_key=settings.contact_hash_key.get_secret_value().encode())
    return Sender(world.engine, channels=sinks, compose=lambda request: None, config=config,
                  rng=random.Random(0)), sinks


def test_the_queue_puts_the_complaint_first(world):
    client, _ = log_in(world, "viewer")
    queue = client.get("/api/conversations").json()
    assert [c["conversation_id"] for c in queue] == [world.conversations["complaint"], world.conversations["question"]]
    complaint, question = queue
    assert (complaint["intent"], complaint["frustrated"], complaint["escalated"]) == ("complaint", True, True)
    assert complaint["priority"] > question["priority"] and question["intent"] == "order_status"
    assert question["waited"] and complaint["waited"]  # both still wait for a person


def test_a_conversation_carries_its_context_and_a_suggested_answer(world):
    client, _ = log_in(world, "viewer")
    data = client.get(f"/api/conversations/{world.conversations['question']}").json()
    packet = data["packet"]
    assert packet["in_reply_to"]["message_id"] == "m0001" and packet["customer"]["first_name"] == "Ada"
    assert [e["direction"] for e in packet["thread"]] == ["inbound"]
    assert packet["timeline"]["messages"] and "ada1@example.com" not in str(packet)
    suggestion = data["suggestion"]
    assert suggestion["drafter"] == "template" and "Ada" in suggestion["text"]
    assert all(g["passed"] for g in suggestion["guardrails"])
    complaint = client.get(f"/api/conversations/{world.conversations['complaint']}?suggestion=false").json()
    assert complaint["pause"]["active"] and complaint["pause"]["reason"] in ("complaint", "frustrated")


def test_an_answer_is_queued_once_and_sent_once_after_the_consent_check(world):
    client, csrf = log_in(world, "agent")
    conversation_id = world.conversations["question"]
    body = {"text": GOOD, "key": "answer-key-1"}
    first = client.post(f"/api/conversations/{conversation_id}/answer", json=body, headers={"X-CSRF-Token": csrf})
    again = client.post(f"/api/conversations/{conversation_id}/answer", json=body, headers={"X-CSRF-Token": csrf})
    assert first.status_code == 200 and not first.json()["duplicate"], first.text
    assert again.json() == {**first.json(), "duplicate": True, "guardrails": []}
    send, sinks = sender(world)
    send.run_once(dt.datetime.now(dt.timezone.utc))
    send.run_once(dt.datetime.now(dt.timezone.utc))
    [message] = sinks["email"].delivered
    assert message.to == "ada1@example.com" and message.subject == "Re: Your cart is saved"
    assert message.body.startswith(GOOD) and "Sent by" in message.body  # the system's footer, as outbound
    with Session(world.engine) as session:
        conversation = session.get(ConversationRecord, conversation_id)
        assert conversation.waiting_since is None and conversation.first_answered_by == "agent"
        row = session.scalars(select(OutboxRecord).where(OutboxRecord.message_id == first.json()["message_id"])).one()
        assert (row.state, row.rule_id, row.topic) == ("sent", "conversation:answer", "service")
    thread = client.get(f"/api/conversations/{conversation_id}?suggestion=false").json()["packet"]["thread"]
    assert [(e["direction"], e["state"]) for e in thread] == [("inbound", None), ("outbound", "sent")]


@pytest.mark.parametrize(
    ("text", "failed"),
    [
        ("Hi Ada, enjoy 20% off your next order with code SAVE20!", "offers"),  # no invented offers
        ("Hi Ada, your order will arrive on 2026-12-24, promise.", "facts"),  # no invented dates
        ("", "length"),
    ],
)
def test_an_answer_failing_its_guardrails_is_refused_and_nothing_is_queued(world, text, failed):
    client, csrf = log_in(world, "agent")
    answer = client.post(f"/api/conversations/{world.conversations['question']}/answer",
                         json={"text": text or " ", "key": "answer-key-2"}, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 422, answer.text
    assert failed in {c["name"] for c in answer.json()["detail"]["failed"]}
    with Session(world.engine) as session:
        assert session.scalars(select(OutboxRecord).where(OutboxRecord.rule_id == "conversation:answer")).all() == []


def test_an_opted_out_customer_gets_no_answer(world):
    from outreach.consent.service import record_consent

    with Session(world.engine) as session:
        record_consent(session=session, customer_id="c-1", channel="email", topic="*", status="opted_out",
                       source="test", changed_at=dt.datetime.now(dt.timezone.utc))
        session.commit()
    client, csrf = log_in(world, "agent")
    sent = client.post(f"/api/conversations/{world.conversations['question']}/answer",
                       json={"text": GOOD, "key": "answer-key-3"}, headers={"X-CSRF-Token": csrf}).json()
    send, sinks = sender(world)
    send.run_once(dt.datetime.now(dt.timezone.utc))
    assert sinks["email"].delivered == []
    with Session(world.engine) as session:
        assert session.get(OutboxRecord, sent["message_id"]).state == "suppressed"


def test_assign_resolve_and_roles(world):
    conversation_id = world.conversations["complaint"]
    viewer, viewer_csrf = log_in(world, "viewer")
    assert viewer.post(f"/api/conversations/{conversation_id}/status", json={"status": "resolved"},
                       headers={"X-CSRF-Token": viewer_csrf}).status_code == 403
    approver, approver_csrf = log_in(world, "approver")
    assert approver.post(f"/api/conversations/{conversation_id}/answer", json={"text": GOOD, "key": "k" * 8},
                         headers={"X-CSRF-Token": approver_csrf}).status_code == 403
    agent, csrf = log_in(world, "agent")
    assert agent.post(f"/api/conversations/{conversation_id}/assign", json={"assignee": "agent"},
                      headers={"X-CSRF-Token": csrf}).json()["assignee"] == "agent"
    assert agent.post(f"/api/conversations/{conversation_id}/status", json={"status": "resolved"},
                      headers={"X-CSRF-Token": csrf}).status_code == 200
    assert agent.post(f"/api/conversations/{conversation_id}/status", json={"status": "closed"},
                      headers={"X-CSRF-Token": csrf}).status_code == 409
    assert [c["conversation_id"] for c in agent.get("/api/conversations?status=resolved").json()] == [conversation_id]
    actions = [a["action"] for a in agent.get("/api/audit").json()]
    assert "conversation.assign" in actions and "conversation.resolved" in actions


def test_the_inbox_pages_render(world):
    client, _ = log_in(world, "agent")
    queue = client.get("/console/conversations")
    assert queue.status_code == 200 and queue.text.index("complaint") < queue.text.index("order_status")
    page = client.get(f"/console/conversations/{world.conversations['question']}")
    assert page.status_code == 200 and 'name="form_key"' in page.text and "Send answer" in page.text
    assert client.get("/console/conversations/nope").status_code == 404


def test_time_to_first_answer_and_share_answered_on_the_results_page_and_in_metrics(world):
    client, csrf = log_in(world, "agent")
    client.post(f"/api/conversations/{world.conversations['question']}/answer",
                json={"text": GOOD, "key": "answer-key-4"}, headers={"X-CSRF-Token": csrf})
    [measures] = client.get("/api/conversations/measures").json()
    assert (measures["rule_id"], measures["conversations"], measures["answered"]) == ("checkout-idle-nudge", 2, 1)
    assert measures["share_answered"] == 0.5 and measures["escalated"] == 1 and measures["waiting"] == 1
    assert measures["median_first_answer_seconds"] >= 3 * 3600 - 60  # replied 3 h before the world was built
    page = client.get("/console/results").text
    # The seeded replies are 3 h older than the world's build time, whenever this test runs after it.
    assert "Replies per rule" in page and "50.0%" in page
    assert f"<td>{duration_text(measures['median_first_answer_seconds'])}</td>" in page
    metrics = client.get("/metrics").text
    assert 'retain_replies_answered_ratio{rule_id="checkout-idle-nudge"} 0.5' in metrics
    assert 'retain_first_human_answer_seconds_count{rule_id="checkout-idle-nudge"} 1' in metrics
    assert 'retain_conversations_total{intent="complaint",status="open"} 1' in metrics
