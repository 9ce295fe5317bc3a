"""The whole service on the real embedded broker: events -> signals -> decisions -> drafts -> sends.

``test_stop_spam_report_and_redelivery`` drives a ``Runtime`` through its ingest API with three
customers and checks the invariants one by one: a STOP reply mid-run stops every later SMS to
that number, a spam report stops every later e-mail, and the same decision delivered twice
yields one message. ``test_demo_with_simulated_customers`` runs ``retain demo``'s loop on the
simulator, where the sink's recipients react through the signed webhooks, and checks from the
database that nothing went to anyone after they opted out. Every wait is bounded.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from rich.console import Console
from sqlmodel import Session, select

from outreach.consent.records import ConsentChangeRecord, SuppressionRecord
from outreach.outbox.records import FINAL_STATES, SENT, OutboxRecord
from infra.broker import free_port
from retain.demo import BAD_RULE_ID, run_demo
from retain.demo_reactions import SimulatedRecipients
from retain.runtime import Runtime
from infra.settings import Settings
from infra.stream_app import CONSENT, DECISIONS
from tests.rule_files import rules_yaml, service_rule
from tests.topics import read_json_topic
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

REPO_RULES = Path(__file__).resolve().parents[2] / "rules"
# No cooldown: every episode may be messaged; the test is about consent, not pacing.
RULES = rules_yaml(service_rule("cart-help", "checkout_idle",
                                "Tell the customer the cart is saved and that they can reply with any question.",
                                channels=("sms", "email")))
SMS_CUSTOMER, MAIL_CUSTOMER, TWICE_CUSTOMER = "sms-a", "mail-b", "twice-c"


# (phone, its zone): whatever the hour, one of them is inside the SMS window (08:00-21:00 local).
DAYTIME_CANDIDATES = (("+4915112345678", "Europe/Berlin"), ("+14155550123", "America/Los_Angeles"),
                      ("+819012345678", "Asia/Tokyo"))


def daytime_phone(now: dt.datetime) -> tuple[str, str]:
    """A phone number and time zone where it is daytime now (quiet hours must not defer the test)."""
    for phone, zone in DAYTIME_CANDIDATES:
        local = now.astimezone(ZoneInfo(zone))
        if 8 <= local.hour < 20:  # an hour of margin before the window closes
            return phone, zone
    raise AssertionError("no candidate zone in daytime")



def _settings(tmp_path: Path, rules_dir: Path) -> Settings:
    port = free_port()
    return Settings(data_dir=tmp_path / "data", rules_dir=rules_dir, api_port=port,
                    public_base_url=f"http://127.0.0.1:{port}", app_id=f"retain-outreach-{uuid.uuid4().hex[:8]}",
                    topic_partitions=2, stream_tick_interval_seconds=0.2, outreach_send_interval_seconds=0.2,
                    rules_reload_seconds=0.5)


def profile(customer_id: str, at: dt.datetime, zone: str, *, phone: str | None = None) -> dict:
    props = {"first_name": "Ada", "email": f"{customer_id}@example.com", "time_zone": zone, "locale": "en",
             }
    if phone:
        props["phone"] = phone
    return {"event_id": f"{customer_id}-profile", "customer_id": customer_id, "type": "customer.profile",
            "occurred_at": at.isoformat(), "properties": props}


def idle_checkout(customer_id: str, checkout_id: str, at: dt.datetime) -> dict:
    return {"event_id": f"{customer_id}-{checkout_id}", "customer_id": customer_id, "type": "checkout.started",
            "occurred_at": at.isoformat(), "properties": {"checkout_id": checkout_id, "cart_value": 40}}


def rows_of(runtime: Runtime, customer_id: str) -> list[OutboxRecord]:
    with Session(runtime.engine) as session:
        return list(session.scalars(select(OutboxRecord).where(OutboxRecord.customer_id == customer_id)
                                    .order_by(OutboxRecord.created_at)))


def sink(runtime: Runtime, channel: str, to: str) -> list:
    return [m for m in runtime.sender.channels[channel].delivered if m.to == to]


async def test_stop_spam_report_and_redelivery(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # Faust keeps its app directory in the working directory
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "cart.yaml").write_text(RULES)
    settings = _settings(tmp_path, tmp_path / "rules")
    now = dt.datetime.now(dt.timezone.utc)
    (phone, zone), an_hour_ago = daytime_phone(now), now - dt.timedelta(hours=1)
    customers = {SMS_CUSTOMER: phone, MAIL_CUSTOMER: None, TWICE_CUSTOMER: None}
    async with Runtime(settings, api_port=settings.api_port) as runtime:
        recipients = SimulatedRecipients(
            react=lambda *_, **__: "ignored", channels=runtime.sender.channels, engine=runtime.engine,
            api_url=runtime.api_url, public_base_url=runtime.settings.public_base_url, keys=runtime.webhook_keys)
        async with httpx.AsyncClient(base_url=runtime.api_url, timeout=30) as api:
            async def ingest(events: list[dict]) -> None:
                response = await api.post("/v1/events", json=events)
                assert response.status_code == 202, response.text

            await ingest([profile(c, an_hour_ago - dt.timedelta(days=1), zone, phone=p) for c, p in customers.items()]
                         + [idle_checkout(c, "k1", an_hour_ago) for c in customers])
            # simulator-free pipeline: signal -> decision -> outbox -> draft -> sink, per customer
            await wait_for(lambda: sink(runtime, "sms", phone) and sink(runtime, "email", f"{MAIL_CUSTOMER}@example.com")
                           and sink(runtime, "email", f"{TWICE_CUSTOMER}@example.com"), 90, "the first messages")
            [first_sms] = sink(runtime, "sms", phone)
            [first_mail] = sink(runtime, "email", f"{MAIL_CUSTOMER}@example.com")
            assert "STOP" in first_sms.body  # the system's opt-out line
            assert first_mail.unsubscribe_url and first_mail.subject

            # Mid-run: the SMS customer replies STOP, the e-mail customer reports spam (signed webhooks).
            stop = await recipients.sms_reply(phone, " Stop ")
            assert stop.status_code == 200 and "unsubscribed" in stop.text
            mail_row = rows_of(runtime, MAIL_CUSTOMER)[0]
            spam = await recipients.sendgrid_events([{
                "email": f"{MAIL_CUSTOMER}@example.com", "event": "spamreport", "sg_event_id": uuid.uuid4().hex,
                "timestamp": int(time.time()), "message_id": mail_row.message_id}], dt.datetime.now(dt.timezone.utc))
            assert spam.status_code == 204

            # Later episodes for both: decided and enqueued, but nothing reaches them.
            await ingest([idle_checkout(c, k, an_hour_ago) for c in (SMS_CUSTOMER, MAIL_CUSTOMER) for k in ("k2", "k3")])
            await wait_for(lambda: all(len(rows_of(runtime, c)) == 3 and all(r.state in FINAL_STATES
                                       for r in rows_of(runtime, c)) for c in (SMS_CUSTOMER, MAIL_CUSTOMER)),
                           90, "the later messages settled")
            for customer in (SMS_CUSTOMER, MAIL_CUSTOMER):
                later = rows_of(runtime, customer)[1:]
                assert [r.state for r in later] == ["suppressed", "suppressed"], [r.last_error for r in later]
            assert {r.last_error for r in rows_of(runtime, SMS_CUSTOMER)[1:]} <= {"suppressed:sms_stop", "opted_out"}
            assert {r.last_error for r in rows_of(runtime, MAIL_CUSTOMER)[1:]} <= {"suppressed:spam_complaint",
                                                                                  "opted_out"}
            assert len(sink(runtime, "sms", phone)) == 1
            assert len(sink(runtime, "email", f"{MAIL_CUSTOMER}@example.com")) == 1
            # Both changes were published to the consent topic after their commit, without contact details.
            expected = {(SMS_CUSTOMER, "sms", "sms_keyword"), (MAIL_CUSTOMER, "email", "sendgrid:spamreport")}
            changes = await read_json_topic(runtime.bootstrap, CONSENT, settings.topic_partitions, lambda rs: expected <= {
                (r["customer_id"], r["channel"], r["source"]) for r in rs})
            assert expected <= {(r["customer_id"], r["channel"], r["source"]) for r in changes}
            assert not [r for r in changes if phone in json.dumps(r) or "@example.com" in json.dumps(r)]

            # The same decision delivered twice (a redelivered record): still one message.
            [twice] = rows_of(runtime, TWICE_CUSTOMER)
            before = runtime.outbox_consumer.counters.duplicates
            producer = AIOKafkaProducer(bootstrap_servers=runtime.bootstrap)
            await producer.start()
            try:
                for _ in range(2):
                    await producer.send_and_wait(DECISIONS, json.dumps(twice.decision).encode(),
                                                 key=TWICE_CUSTOMER.encode())
            finally:
                await producer.stop()
            await wait_for(lambda: runtime.outbox_consumer.counters.duplicates >= before + 2, 30, "both redeliveries")
            assert len(rows_of(runtime, TWICE_CUSTOMER)) == 1
            assert len(sink(runtime, "email", f"{TWICE_CUSTOMER}@example.com")) == 1
        await recipients.close()


async def test_demo_with_simulated_customers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = _settings(tmp_path, REPO_RULES)
    summary = await run_demo(settings, duration=20, customers=80, seed=7, speedup=60.0,
                             console=Console(file=io.StringIO()), show_progress=False)
    sent = sum(states.get("sent", 0) for states in summary["messages"].values())
    assert sent > 0, summary
    assert summary["outbox"]["deadletter"] == 0
    # Sent messages reached simulated customers (one sent after the last pass may not have yet),
    # and every reaction was accepted by its webhook.
    assert 0 < sum(summary["reactions"].values()) <= sent
    assert "unknown_recipient" not in summary["reactions"]
    assert summary["webhooks"] and all(key.endswith((" 200", " 204")) for key in summary["webhooks"]), summary
    assert set(summary) >= {"messages", "opt_outs", "suppressed", "reputation", "conversations", "replies"}
    # Calibrated customers earn no pause: no rule paused, and the guard's evidence agrees for every rule.
    assert summary["paused_rules"] == {} and summary["injected_rule"] is None
    assert summary["reputation"] and not any(r["paused"] or r["evidence_says_pause"]
                                             for r in summary["reputation"].values()), summary["reputation"]
    # Some simulated customers wrote back; each reply was filed in a conversation and triaged.
    written = sum(summary["replies"].values())
    assert 0 < sum(summary["conversations"].values()) <= written, summary
    assert set(summary["conversations"]) <= {"order_status", "billing", "cancellation", "complaint", "thanks",
                                             "opt_out", "other"}

    # Nothing was sent to a contact point after its suppression, or to a customer after opting out.
    # "After" means after we recorded it: a provider's own event time (SendGrid sends whole seconds)
    # can predate the send it complains about.
    from infra.database import make_engine

    engine = make_engine(settings)
    with Session(engine) as session:
        sends = list(session.scalars(select(OutboxRecord).where(OutboxRecord.state == SENT)))
        for suppression in session.scalars(select(SuppressionRecord)):
            assert not [r for r in sends if r.recipient_hash == suppression.contact_hash
                        and r.channel == suppression.channel and r.sent_at > suppression.created_at]
        for change in session.scalars(select(ConsentChangeRecord).where(ConsentChangeRecord.status == "opted_out")):
            assert not [r for r in sends if r.customer_id == change.customer_id and r.channel == change.channel
                        and change.topic in ("*", r.topic) and r.sent_at > change.recorded_at]
    engine.dispose()


async def test_demo_pauses_exactly_the_injected_bad_rule(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = _settings(tmp_path, REPO_RULES)
    summary = await run_demo(settings, duration=20, customers=150, seed=7, speedup=60.0,
                             console=Console(file=io.StringIO()), show_progress=False, inject_bad_rule=True)
    assert summary["injected_rule"] == BAD_RULE_ID
    assert set(summary["paused_rules"]) == {BAD_RULE_ID}, summary["paused_rules"]
    guard = summary["reputation"]
    # Paused on evidence: a rate's lower confidence bound passed its limit, after the minimum volume ...
    blast = guard[BAD_RULE_ID]
    assert blast["paused"] and any(m["over"] and m["lower_bound"] > m["limit"] and m["sends"] >= 20
                                   for m in blast["measures"].values()), blast
    # ... while no real rule's evidence came near a pause.
    assert not any(r["paused"] or r["evidence_says_pause"] for rule_id, r in guard.items() if rule_id != BAD_RULE_ID)
    # After the pause nothing of that rule went out: a message sent before it is fine, one decided or
    # sent after it is not. (How many came after depends on how fast the sender drained the rule's
    # burst before the complaints arrived, so the count of held-back messages is not the test.)
    from infra.database import make_engine
    from outreach.outbox.records import SUPPRESSED, RulePauseRecord

    engine = make_engine(settings)
    try:
        with Session(engine) as session:
            pause = session.get(RulePauseRecord, BAD_RULE_ID)
            rows = list(session.scalars(select(OutboxRecord).where(OutboxRecord.rule_id == BAD_RULE_ID)))
    finally:
        engine.dispose()
    assert pause is not None and rows
    assert not [r for r in rows if r.state == SENT and r.sent_at > pause.paused_at]
    held = [r for r in rows if r.state == SUPPRESSED and (r.last_error or "").startswith("rule paused")]
    assert not [r for r in rows if r.created_at > pause.paused_at and r not in held and r.state in FINAL_STATES]
    assert summary["suppressed"].get("rule_paused", 0) == len(held)
    assert not (REPO_RULES / f"{BAD_RULE_ID}.yaml").exists()  # injected into a copy, never into the source rules
