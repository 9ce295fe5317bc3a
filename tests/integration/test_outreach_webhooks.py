"""Inbound webhooks through the real app on a real database: signed, idempotent, effective at once."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlmodel import Session, select

from outreach.consent.records import SuppressionRecord
from outreach.outbox import service as outbox
from outreach.outbox.records import RulePauseRecord
from outreach.tokens import PREFERENCES, make_token
from tests.fakes.outreach_world import CONFIG, T0, add_customer
from tests.fakes.webhook_world import EMAIL, PHONE, World

pytestmark = pytest.mark.integration


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


def _sms(body: str, sid: str = "SM1", sender: str = PHONE) -> dict:
    return {"MessageSid": sid, "From": sender, "To": "+15005550006", "Body": body, "AccountSid": "AC1"}


def test_stop_reply_stops_every_later_sms_and_confirms_once(world):
    assert world.send(channel="sms").state == "sent"
    answer = world.twilio("/outreach/twilio/inbound", _sms("  stop "))
    assert answer.status_code == 200 and "unsubscribed" in answer.text
    repeat = world.twilio("/outreach/twilio/inbound", _sms("  stop "))  # Twilio retried the webhook
    assert "<Message>" not in repeat.text  # no second confirmation
    assert len(world.changes()) == 1 and len(world.published.published) == 1
    for _ in range(3):
        assert world.send(channel="sms").last_error == "suppressed:sms_stop"
    assert len(world.sinks["sms"].delivered) == 1
    # the same number under another customer is stopped too
    add_customer(world.engine, "c2", phone=PHONE)
    assert world.send("c2", channel="sms").state == "suppressed"


def test_start_after_stop_opts_back_in(world):
    world.twilio("/outreach/twilio/inbound", _sms("STOP", sid="SM1"))
    answer = world.twilio("/outreach/twilio/inbound", _sms("Start", sid="SM2"))
    assert "subscribed to texts again" in answer.text
    assert world.send(channel="sms").state == "sent"


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        ("HELP", "customer care"),  # help text
        ("please stop texting me", "unsubscribed"),  # a plain-language stop is an opt-out
        ("where is my parcel??", "get back to you"),  # anything else: acknowledged, handed to support
    ],
)
def test_replies_get_the_right_answer(world, body, reply):
    assert reply in world.twilio("/outreach/twilio/inbound", _sms(body)).text


def test_free_text_reply_goes_to_support_with_context_and_no_number(world):
    sent = world.send(channel="sms")
    world.twilio("/outreach/twilio/inbound", _sms("My parcel still has not arrived"))
    [packet] = world.support
    assert packet["customer_id"] == "c1" and packet["in_reply_to"]["message_id"] == sent.message_id
    assert packet["in_reply_to"]["rule_id"] == "late-notice" and packet["timeline"]["messages"]
    assert PHONE not in json.dumps(packet)
    assert world.status("sms") == "unknown"  # nothing about consent changed


@pytest.mark.parametrize(
    "signature",
    [
        "",  # unsigned
        "bm90IGEgc2lnbmF0dXJl",  # wrong
    ],
)
def test_unsigned_or_badly_signed_twilio_requests_change_nothing(world, signature):
    answer = world.twilio("/outreach/twilio/inbound", _sms("STOP"), signature=signature)
    assert answer.status_code == 403
    assert world.changes() == [] and world.status("sms") == "unknown"


def test_status_callback_21610_records_carrier_opt_out(world):
    sent = world.send(channel="sms")
    form = {"MessageSid": sent.provider_message_id, "MessageStatus": "failed", "ErrorCode": "21610"}
    assert world.twilio("/outreach/twilio/status", form).status_code == 204
    assert world.twilio("/outreach/twilio/status", form).status_code == 204  # repeated: nothing twice
    assert len(world.changes()) == 1 and world.status("sms") == "opted_out"
    with Session(world.engine) as session:
        assert outbox.get_message(session=session, message_id=sent.message_id).provider_status == "failed"


def _sg(kind: str, message_id: str | None, event_id: str, at: dt.datetime, **extra) -> dict:
    return {"event": kind, "sg_event_id": event_id, "message_id": message_id, "email": EMAIL,
            "timestamp": int(at.timestamp()), **extra}


def test_spam_report_stops_every_later_email(world):
    sent = world.send()
    events = [_sg("delivered", sent.message_id, "ev1", world.now), _sg("spamreport", sent.message_id, "ev2", world.now)]
    assert world.sendgrid(events).status_code == 204
    assert world.sendgrid(events).status_code == 204  # SendGrid redelivers: nothing twice
    assert len(world.changes()) == 1
    with Session(world.engine) as session:
        assert [s.reason for s in session.scalars(select(SuppressionRecord))] == ["spam_complaint"]
    for topic in ("service", "marketing"):
        assert world.send(topic=topic).last_error == "suppressed:spam_complaint"
    assert len(world.sinks["email"].delivered) == 1


@pytest.mark.parametrize(
    ("options", "status"),
    [
        ({"key": ec.generate_private_key(ec.SECP256R1())}, 403),  # signed by someone else
        ({"tamper": True}, 403),  # body changed after signing
        ({"signed_at": T0 - dt.timedelta(minutes=10)}, 403),  # a replay of an old, validly signed request
    ],
)
def test_bad_or_stale_sendgrid_requests_change_nothing(world, options, status):
    sent = world.send()
    answer = world.sendgrid([_sg("delivered", sent.message_id, "ev1", world.now)], **options)
    assert answer.status_code == status
    assert world.changes() == [] and world.status("email") == "unknown"


def test_unsigned_sendgrid_request_is_refused(world):
    answer = world.client.post("/outreach/sendgrid/events", json=[_sg("spamreport", None, "x", world.now)])
    assert answer.status_code == 403 and world.changes() == []


def test_group_unsubscribe_opts_out_of_marketing_only(world):
    sent = world.send(topic="marketing", rule_id="winback")
    world.sendgrid([_sg("group_unsubscribe", sent.message_id, "ev1", world.now, asm_group_id=42)])
    assert (world.status("email", "marketing"), world.status("email", "service")) == ("opted_out", "unknown")


def _unsubscribe_url(row) -> str:
    return row.rendered["unsubscribe_url"].removeprefix("http://testserver")


def test_one_click_unsubscribe(world):
    row = world.send(topic="marketing", rule_id="winback")
    url = _unsubscribe_url(row)
    assert world.client.get(url).status_code == 200 and world.changes() == []  # a link scanner's GET
    answer = world.client.post(url, content="List-Unsubscribe=One-Click",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200 and answer.json()["status"] == "unsubscribed"
    world.client.post(url)
    assert len(world.changes()) == 1
    assert world.send(topic="marketing", rule_id="winback").last_error == "opted_out"
    assert world.send(topic="service").state == "sent"  # a marketing unsubscribe keeps service notices


@pytest.mark.parametrize(
    "token",
    [
        "",  # missing
        "garbage.token",  # forged
        "PREFERENCES",  # a valid token for another purpose
    ],
)
def test_bad_unsubscribe_tokens_get_one_generic_4xx(world, token):
    if token == "PREFERENCES":
        token = make_token(CONFIG.unsubscribe_secret, purpose=PREFERENCES, customer_id="c1", now=world.now)
    answer = world.client.post(f"/outreach/unsubscribe?{urlencode({'token': token})}")
    assert (answer.status_code, answer.json()["detail"]) == (400, "invalid or expired link")
    assert world.changes() == []


def test_preference_page_shows_and_changes_topics(world):
    row = world.send()
    token = parse_qs(urlsplit(row.rendered["unsubscribe_url"]).query)["token"][0]
    pref = make_token(CONFIG.unsubscribe_secret, purpose=PREFERENCES, customer_id="c1", now=world.now)
    page = world.client.get(f"/outreach/preferences?{urlencode({'token': pref})}")
    assert page.status_code == 200 and "sms" in page.text
    assert world.client.get(f"/outreach/preferences?{urlencode({'token': token})}").status_code == 400
    # keep e-mail service and SMS marketing, drop the rest
    form = {"token": pref, "email:service": "on", "sms:marketing": "on"}
    saved = world.client.post("/outreach/preferences", content=urlencode(form),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert saved.status_code == 200
    assert {(c.channel, c.topic, c.status) for c in world.changes()} == {
        ("email", "marketing", "opted_out"), ("sms", "service", "opted_out")}


def test_reputation_guard_pauses_a_rule_on_evidence_not_on_one_complaint(world):
    rows = [world.send(topic="marketing", rule_id="winback") for _ in range(20)]
    world.sendgrid([_sg("spamreport", rows[0].message_id, "ev-spam", world.now)])
    with Session(world.engine) as session:
        assert session.get(RulePauseRecord, "winback") is None  # one report among 20 e-mails is noise
    world.sendgrid([_sg("spamreport", rows[i].message_id, f"ev-spam-{i}", world.now) for i in (1, 2)])
    with Session(world.engine) as session:
        pause = session.get(RulePauseRecord, "winback")
    assert pause is not None and pause.reason.startswith("spam complaints: 2 of 20 e-mails")  # paused at the second
    add_customer(world.engine, "c3", email="carol@example.com")
    assert world.send("c3", topic="marketing", rule_id="winback").last_error.startswith("rule paused")


def test_no_address_reaches_the_logs(world, caplog):
    caplog.set_level("DEBUG")
    sent_sms, sent_mail = world.send(channel="sms"), world.send()
    world.twilio("/outreach/twilio/inbound", _sms("where is it?", sid="SM9"))
    world.twilio("/outreach/twilio/inbound", _sms("STOP", sid="SM10"))
    world.sendgrid([_sg("bounce", sent_mail.message_id, "ev-b", world.now, type="bounce")])
    assert sent_sms.state == sent_mail.state == "sent" and caplog.records
    assert EMAIL not in caplog.text and PHONE not in caplog.text
