"""Inbound webhooks through the real app on a real database: signed, idempotent, effective at once."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from outreach.channels.sink import SinkChannel
from outreach.consent.publisher import InMemoryConsentPublisher
from outreach.consent.records import ConsentChangeRecord, SuppressionRecord
from outreach.consent.service import consent_status
from outreach.outbox import service as outbox
from outreach.outbox.records import RulePauseRecord
from outreach.outbox.sender import Sender
from outreach.tokens import PREFERENCES, make_token
from outreach.webhooks.routers import ROUTERS
from retain.api.app import create_app
from infra.settings import Settings
from tests.fakes.outreach_world import CONFIG, T0, add_customer, decision, simple_compose, sqlite_engine

pytestmark = pytest.mark.integration

EMAIL, PHONE = "ada@example.com", "+4915112345678"
AUTH_TOKEN = "twilio-test-token"
PRIVATE_KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC_KEY = base64.b64encode(PRIVATE_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


class NoPublisher:
    async def publish(self, events):
        raise AssertionError("webhooks publish no events")

    async def check(self):
        return None


class World:
    """The app, its clock, the sink channels and what went to support."""

    def __init__(self, tmp_path):
        self.engine = sqlite_engine(tmp_path)
        add_customer(self.engine, "c1", email=EMAIL, phone=PHONE, sms_marketing=True)
        self.now = T0
        settings = Settings(
            data_dir=tmp_path, twilio_auth_token=SecretStr(AUTH_TOKEN), sendgrid_webhook_public_key=PUBLIC_KEY,
            sendgrid_marketing_asm_group_id=42, public_base_url="http://testserver", reputation_min_sends=20,
            unsubscribe_secret=SecretStr(CONFIG.unsubscribe_secret.decode()),
            contact_hash_key=SecretStr(CONFIG.contact_hash_key.decode()),
        )
        self.app = create_app(settings, publisher=NoPublisher(), engine=self.engine, routers=ROUTERS)
        self.app.state.clock = lambda: self.now
        self.published = InMemoryConsentPublisher()
        self.app.state.consent_publisher = self.published
        self.support: list[dict] = []

        async def handoff(packet):
            self.support.append(packet)

        self.app.state.support_handoff = handoff
        self.client = TestClient(self.app)
        self.sinks = {"email": SinkChannel("email"), "sms": SinkChannel("sms")}
        self.sender = Sender(self.engine, channels=self.sinks, compose=simple_compose, config=CONFIG,
                             rng=random.Random(0))
        self._episode = 0

    def send(self, customer_id="c1", **options):
        """Decide, enqueue and run the sender once; returns the outbox row."""
        self._episode += 1
        options.setdefault("episode", f"e{self._episode}")
        with Session(self.engine) as session:
            message_id = outbox.enqueue(session=session, decision=decision(customer_id, at=self.now, **options),
                                        now=self.now)
            session.commit()
        self.sender.run_once(self.now)
        with Session(self.engine) as session:
            return outbox.get_message(session=session, message_id=message_id)

    def twilio(self, path: str, form: dict, *, signature: str | None = None):
        url = f"http://testserver{path}"
        signature = signature if signature is not None else RequestValidator(AUTH_TOKEN).compute_signature(url, form)
        return self.client.post(path, content=urlencode(form), headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})

    def sendgrid(self, events: list[dict], *, signed_at: dt.datetime | None = None, key=PRIVATE_KEY, tamper=False):
        payload = json.dumps(events)
        timestamp = str(int((signed_at or self.now).timestamp()))
        signature = base64.b64encode(key.sign((timestamp + payload).encode(), ec.ECDSA(hashes.SHA256()))).decode()
        body = payload.replace("delivered", "spamreport") if tamper else payload
        return self.client.post("/outreach/sendgrid/events", content=body, headers={
            "Content-Type": "application/json", "X-Twilio-Email-Event-Webhook-Signature": signature,
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp})

    def status(self, channel: str, topic: str = "service", customer_id: str = "c1") -> str:
        with Session(self.engine) as session:
            return consent_status(session=session, customer_id=customer_id, channel=channel, topic=topic).value

    def changes(self) -> list[ConsentChangeRecord]:
        with Session(self.engine) as session:
            return list(session.scalars(select(ConsentChangeRecord)))


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.client.close()
    w.engine.dispose()


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


def test_reputation_guard_pauses_a_rule_with_complaints(world):
    rows = [world.send(topic="marketing", rule_id="winback") for _ in range(20)]
    world.sendgrid([_sg("spamreport", rows[0].message_id, "ev-spam", world.now)])
    with Session(world.engine) as session:
        pause = session.get(RulePauseRecord, "winback")
    assert pause is not None and "spam-complaint rate" in pause.reason
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
