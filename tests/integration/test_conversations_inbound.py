"""Customers' replies through the real app on a real database: both channels, threading, triage, escalation."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from pydantic import SecretStr
from sqlmodel import Session, select

from outreach.channels.from_settings import build_channels
from outreach.conversations.answers import send_answer
from outreach.conversations.escalations import StoredEscalations
from outreach.conversations.records import ConversationEntryRecord, ConversationRecord
from outreach.conversations.thread_links import message_id_header, reply_address
from outreach.conversations.triage import Intent, Sentiment, Triage
from outreach.outbox.records import OutboxRecord
from outreach.outbox.sender import Sender
from outreach.webhooks.support_handoff import HttpSupportHandoff, verify_signature
from tests.fakes.outreach_world import CONFIG, add_customer, simple_compose
from tests.fakes.sendgrid_api import FakeSendGrid
from tests.fakes.webhook_world import EMAIL, INBOUND_SECRET, PHONE, World
from tests.recorded_payloads import sendgrid_inbound, twilio_inbound
from triggers.decision import decide
from triggers.policy import ContactHistory, InMemoryConsent, ReasonCode
from triggers.rule import Rule

pytestmark = pytest.mark.integration
INBOUND = f"/outreach/sendgrid/inbound/{INBOUND_SECRET}"
ANSWER = "Hi Ada, thanks for asking. A colleague is checking where your order is and will write back soon."


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


def conversations(world) -> list[ConversationRecord]:
    with Session(world.engine) as session:
        return list(session.scalars(select(ConversationRecord)))


def entries(world) -> list[ConversationEntryRecord]:
    with Session(world.engine) as session:
        return list(session.scalars(select(ConversationEntryRecord).order_by(ConversationEntryRecord.created_at)))


def post_email(world, *, path=INBOUND, sender=EMAIL, to="support@example.com", text="Where is my parcel now?",
               headers=None, **options):
    body, content_type = sendgrid_inbound(to=to, sender=sender, text=text, **options)
    return world.client.post(path, content=body, headers={"Content-Type": content_type, **(headers or {})})


def test_sms_reply_is_threaded_triaged_and_filed(world):
    sent = world.send(channel="sms")
    answer = world.twilio("/outreach/twilio/inbound", twilio_inbound(sender=PHONE, body="When will my parcel arrive?"))
    assert "get back to you" in answer.text
    [conversation] = conversations(world)
    assert (conversation.customer_id, conversation.channel, conversation.message_id, conversation.rule_id) == (
        "c1", "sms", sent.message_id, "late-notice")
    assert (conversation.intent, conversation.status, conversation.replies) == ("order_status", "open", 1)
    assert conversation.waiting_since == world.now and conversation.escalated_at is None
    [entry] = entries(world)
    assert entry.text == "When will my parcel arrive?" and entry.details["threaded_by"] == "last_message"
    assert entry.triage["source"] == "classifier"
    [packet] = world.support  # the helpdesk hand-off, now with intent and priority
    assert packet["intent"] == "order_status" and packet["priority_label"] == "high"
    assert packet["in_reply_to"]["message_id"] == sent.message_id and PHONE not in json.dumps(packet)


def test_a_repeated_twilio_webhook_files_the_reply_once(world):
    world.send(channel="sms")
    form = twilio_inbound(sender=PHONE, body="Where is it now?")
    world.twilio("/outreach/twilio/inbound", form)
    repeat = world.twilio("/outreach/twilio/inbound", form)
    assert "<Message>" not in repeat.text
    assert len(entries(world)) == 1 and len(world.support) == 1


def test_later_replies_join_the_open_conversation_and_raise_its_priority(world):
    world.send(channel="sms")
    world.twilio("/outreach/twilio/inbound", twilio_inbound(sender=PHONE, body="where is it?", sid="SM" + "1" * 32))
    world.now += dt.timedelta(hours=2)
    world.twilio("/outreach/twilio/inbound", twilio_inbound(
        sender=PHONE, body="STILL NOTHING. This is the third time, unacceptable!!!", sid="SM" + "2" * 32))
    [conversation] = conversations(world)
    assert conversation.replies == 2 and conversation.frustrated and conversation.escalated_at == world.now
    assert conversation.priority >= 4 and conversation.waiting_since == world.now - dt.timedelta(hours=2)


def test_a_complaint_stops_automated_outreach_in_the_policy(world):
    world.send(channel="sms")
    world.twilio("/outreach/twilio/inbound", twilio_inbound(sender=PHONE, body="Your courier threw the box, it arrived broken. Terrible service."))
    [conversation] = conversations(world)
    assert conversation.escalation_reason in ("complaint", "frustrated")
    rule = Rule.model_validate({"id": "winback", "version": 1, "signals": ["usage_drop"], "topic": "marketing",
                                "action": {"channels": ["email"], "brief": "x"}})
    from signals.signal import Signal

    signal = Signal(kind="usage_drop", customer_id="c1", episode_key="usage_drop:c1:1", detected_at=world.now,
                    reason="drop")
    with Session(world.engine) as session:
        [decision] = decide(signal, [rule], {"email": EMAIL}, None, ContactHistory(), InMemoryConsent(),
                            world.now + dt.timedelta(hours=1), escalations=StoredEscalations(session))
    assert decision.reason == ReasonCode.CONVERSATION_ESCALATED and conversation.conversation_id in decision.detail


class FixedTriage:
    """A triager that reads every reply the same way (the mechanism under test is what follows)."""

    name = "fixed"

    def __init__(self, intent: Intent):
        self.intent = intent

    def triage(self, text, *, locale=None):
        return Triage(self.intent, Sentiment.NEGATIVE, False, "en", self.name)


def test_a_plain_words_opt_out_found_by_triage_opts_the_number_out(world):
    world.send(channel="sms")
    world.app.state.triager = FixedTriage(Intent.OPT_OUT)  # words no keyword rule knows
    answer = world.twilio("/outreach/twilio/inbound", twilio_inbound(sender=PHONE, body="I'd rather not hear from you"))
    assert "unsubscribed" in answer.text
    assert world.status("sms") == "opted_out"
    assert world.send(channel="sms").state == "suppressed"


def test_email_reply_from_the_recorded_inbound_parse_payload(world):
    sent = world.send()
    answer = post_email(world, text="Thanks for the update! Can you tell me which carrier has it?",
                        in_reply_to=message_id_header(sent.message_id, "example.com"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["attachments_dropped"] == 2
    [conversation] = conversations(world)
    assert (conversation.customer_id, conversation.channel, conversation.message_id) == ("c1", "email", sent.message_id)
    [entry] = entries(world)
    assert entry.text == "Thanks for the update! Can you tell me which carrier has it?"  # the quoted history is cut
    assert entry.subject == "Re: Your order O-1007 is running late"
    assert entry.details["threaded_by"] == "references"
    assert [a["name"] for a in entry.details["attachments_dropped"]] == ["parcel.jpg", "receipt.docx"]
    assert EMAIL not in json.dumps(entry.details)


def answer_the_reply(world):
    """A person's answer to the only conversation, queued in the outbox."""
    [conversation] = conversations(world)
    with Session(world.engine) as session:
        answer = send_answer(session=session, conversation_id=conversation.conversation_id, text=ANSWER,
                             subject="Re: your parcel", author="agent", form_key="form-1", now=world.now,
                             settings=world.app.state.settings.conversations)
        session.commit()
    return answer


def test_an_answer_to_an_email_reply_threads_under_it_at_the_provider(world):
    sent = world.send()
    ours = message_id_header(sent.message_id, "example.com")
    reply_id = "<CAN_reply-1@mail.gmail.com>"
    post_email(world, text="Which carrier has it?", message_id=reply_id, in_reply_to=ours)
    answer = answer_the_reply(world)
    with FakeSendGrid() as sendgrid:
        providers = world.app.state.settings.model_copy(update={
            "sendgrid_api_key": SecretStr(sendgrid.api_key), "sendgrid_host": sendgrid.url}).providers
        Sender(world.engine, channels=build_channels(providers), compose=simple_compose, config=CONFIG).run_once(
            world.now)
        [payload] = sendgrid.sent_to(EMAIL)
    assert payload["headers"]["In-Reply-To"] == reply_id  # the customer's mail client threads the answer under it
    assert payload["headers"]["References"] == f"{ours} {reply_id}"  # their references, then their message
    assert payload["headers"]["Message-ID"] == message_id_header(answer.message_id, "example.com")
    assert payload["subject"] == "Re: your parcel"


def test_malformed_thread_headers_of_a_reply_never_reach_an_answer(world):
    world.send()
    post_email(world, message_id="victim@example.net", in_reply_to="not an id")  # no <id> among them
    answer = answer_the_reply(world)
    with Session(world.engine) as session:
        row = session.get(OutboxRecord, answer.message_id)
    assert "headers" not in row.rendered and "victim" not in json.dumps(row.rendered)


def test_email_reply_to_a_reply_address_threads_to_that_message(world):
    first, second = world.send(), world.send()
    address = reply_address(CONFIG.unsubscribe_secret, first.message_id, "reply.example.com")
    assert post_email(world, to=address, sender="someone-else@example.net", text="where is it?").status_code == 200
    [conversation] = conversations(world)
    assert (conversation.message_id, conversation.customer_id) == (first.message_id, "c1") != (second.message_id,)
    assert entries(world)[0].details["threaded_by"] == "reply_address"


def test_forged_references_from_another_sender_do_not_thread(world):
    sent = world.send()
    post_email(world, sender="stranger@example.net", in_reply_to=message_id_header(sent.message_id, "example.com"))
    [conversation] = conversations(world)
    assert conversation.customer_id is None and conversation.message_id is None  # an unknown sender


def test_a_repeated_inbound_parse_post_is_filed_once(world):
    world.send()
    assert post_email(world).json()["status"] == "received"
    assert post_email(world).json()["status"] == "duplicate"
    assert len(entries(world)) == 1


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        (INBOUND, {}, 200),  # the secret as the path's last segment
        ("/outreach/sendgrid/inbound/wrong-secret", {}, 403),
        ("/outreach/sendgrid/inbound", {}, 403),  # no secret at all
        ("/outreach/sendgrid/inbound",
         {"Authorization": "Basic " + base64.b64encode(f"sendgrid:{INBOUND_SECRET}".encode()).decode()}, 200),
        ("/outreach/sendgrid/inbound", {"Authorization": "Basic " + base64.b64encode(b"sendgrid:nope").decode()}, 403),
        ("/outreach/sendgrid/inbound", {"Authorization": "Basic %%%"}, 403),
    ],
)
def test_inbound_parse_needs_its_secret(world, path, headers, status):
    world.send()
    assert post_email(world, path=path, headers=headers).status_code == status
    assert len(conversations(world)) == (1 if status == 200 else 0)


def test_inbound_parse_is_off_without_a_secret(world):
    world.app.state.settings = world.app.state.settings.model_copy(update={"inbound_email_secret": None})
    assert post_email(world).status_code == 404


def test_inbound_parse_refuses_oversized_and_malformed_posts(world):
    world.app.state.settings = world.app.state.settings.model_copy(update={"inbound_email_max_bytes": 20_000})
    big = post_email(world, attachment=b"x" * 50_000)
    assert big.status_code == 413
    assert world.client.post(INBOUND, content=b"a=b", headers={
        "Content-Type": "application/x-www-form-urlencoded"}).status_code == 415
    broken = world.client.post(INBOUND, content=b"--xYzZY\r\nnonsense", headers={
        "Content-Type": "multipart/form-data; boundary=xYzZY"})
    assert broken.status_code == 400
    assert conversations(world) == []


def test_auto_replies_are_not_filed(world):
    world.send()
    answer = world.client.post(INBOUND, files={"from": (None, f"Ada <{EMAIL}>"), "to": (None, "support@example.com"),
                                               "subject": (None, "Out of office: back on Monday"),
                                               "text": (None, "I am away until Monday."),
                                               "headers": (None, "Auto-Submitted: auto-replied\n")})
    assert answer.json() == {"status": "ignored", "reason": "auto-reply"} and conversations(world) == []


def test_an_email_opt_out_in_plain_words_opts_the_address_out(world):
    world.send()
    world.app.state.triager = FixedTriage(Intent.OPT_OUT)
    assert post_email(world, text="Please remove me from your mailing list, no more emails").status_code == 200
    assert world.status("email") == "opted_out"


def test_the_helpdesk_hand_off_is_signed(world):
    import httpx

    posted = []

    def helpdesk(request: httpx.Request) -> httpx.Response:
        posted.append(request)
        return httpx.Response(202)

    world.app.state.support_handoff = HttpSupportHandoff("https://helpdesk.example/hook", secret=b"s3cret",
                                                         transport=httpx.MockTransport(helpdesk),
                                                         clock=lambda: world.now.timestamp())
    world.send(channel="sms")
    world.twilio("/outreach/twilio/inbound", twilio_inbound(sender=PHONE, body="I was charged twice for this order"))
    [request] = posted
    body = request.content
    assert verify_signature(b"s3cret", body, request.headers["X-Retain-Signature"], now=world.now.timestamp())
    assert not verify_signature(b"s3cret", body + b" ", request.headers["X-Retain-Signature"],
                                now=world.now.timestamp())
    assert json.loads(body)["intent"] == "billing"
    [conversation] = conversations(world)
    assert conversation.handed_off_at == world.now


def test_a_second_customer_of_the_same_number_is_not_mixed_in(world):
    add_customer(world.engine, "c2", phone="+4915199999999")
    world.send(channel="sms")
    world.send("c2", channel="sms")
    world.twilio("/outreach/twilio/inbound", twilio_inbound(sender="+4915199999999", body="where is it?"))
    [conversation] = conversations(world)
    assert conversation.customer_id == "c2"


def test_the_decision_stage_reads_escalations_through_its_own_session(world):
    from signals.signal import Signal
    from triggers.decision_stage import DecisionStage
    from triggers.ruleset import RuleBook, RuleSet

    from outreach.conversations.escalations import escalations_on

    world.send(channel="sms")
    world.twilio("/outreach/twilio/inbound", twilio_inbound(sender=PHONE, body="Cancel my order, I don't want it anymore."))
    rule = Rule.model_validate({"id": "winback", "version": 1, "signals": ["usage_drop"], "topic": "marketing",
                                "action": {"channels": ["email"], "brief": "x"}})
    stage = DecisionStage(engine=world.engine, rulebook=RuleBook(RuleSet.of([rule])), escalations=escalations_on)
    signal = Signal(kind="usage_drop", customer_id="c1", episode_key="usage_drop:c1:9", detected_at=world.now,
                    reason="drop", context={"customer": {"email": EMAIL}})
    assert stage.process([signal], world.now + dt.timedelta(minutes=5)) == []  # nothing published
    with Session(world.engine) as session:
        from triggers.records import DecisionRecord

        [stored] = session.scalars(select(DecisionRecord).where(DecisionRecord.signal_id == signal.signal_id))
    assert (stored.outcome, stored.reason) == ("suppressed", "conversation_escalated")


def test_erasure_clears_the_reply_texts(world):
    from outreach.consent.erasure import erase_customer

    world.send(channel="sms")
    world.twilio("/outreach/twilio/inbound", twilio_inbound(sender=PHONE, body="where is my parcel, Ada Lovelace here"))
    with Session(world.engine) as session:
        erase_customer(session=session, customer_id="c1", now=world.now)
        session.commit()
    assert [(e.text, e.subject) for e in entries(world)] == [(None, None)]


def test_the_hand_off_needs_its_secret_outside_development():
    from infra.settings import Settings
    from outreach.webhooks.support_handoff import handoff_from_settings

    assert handoff_from_settings(Settings().conversations) is None  # no helpdesk: replies wait in the inbox
    with pytest.raises(ValueError, match="RETAIN_SUPPORT_WEBHOOK_SECRET"):
        production = Settings(environment="production", support_webhook_url="https://helpdesk.example/h")
        handoff_from_settings(production.conversations)
