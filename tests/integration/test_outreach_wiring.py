"""Outreach wiring on the real embedded broker and SQLite: decisions -> outbox, send job, composer, keys."""

from __future__ import annotations

import base64
import json
import os
import random
import stat
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from sendgrid.helpers.eventwebhook import EventWebhook
from sqlalchemy import select
from sqlmodel import Session
from twilio.request_validator import RequestValidator

from outreach.agents import DecisionsToOutbox
from outreach.channels.base import SendError
from outreach.channels.sink import SinkChannel
from outreach.consent.publisher import InMemoryConsentPublisher
from outreach.jobs import OutreachJobs, pause_rules_over_threshold
from outreach.outbox import service as outbox
from outreach.outbox.records import SENT, DeliveryEventRecord, OutboxRecord, RulePauseRecord
from outreach.wiring import (
    KEYS_DIR,
    build_sender,
    development_webhook_keys,
    rule_for_rules_dir,
    with_webhook_keys,
)
from infra.broker import ensure_topics
from infra.health import Health
from infra.supervisor import Supervisor
from infra.database import session_scope
from infra.settings import Settings
from signals.service import record_signal
from signals.signal import Signal
from tests.fakes.outreach_world import CONFIG, T0, add_customer, decision, sqlite_engine
from triggers.policy.reasons import Outcome, ReasonCode
from tests.topics import read_json_topic
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

RULES = """schema_version: 1
rules:
  - id: late-notice
    version: 1
    signals: [shipping_delay]
    topic: service
    priority: 10
    relevance: 2d
    action:
      channels: [sms, email]
      brief: Tell the customer the parcel is late and that they can reply for help.
"""




def outbox_rows(engine) -> list[OutboxRecord]:
    with Session(engine) as session:
        return list(session.scalars(select(OutboxRecord)))


async def test_each_engaging_decision_becomes_one_outbox_row_and_poison_is_deadlettered(broker, tmp_path):
    run = uuid.uuid4().hex[:8]
    decisions, deadletter = f"decisions-{run}", f"deadletter-{run}"
    await ensure_topics(broker.bootstrap, {decisions: 2, deadletter: 2})
    engine = sqlite_engine(tmp_path)
    engage = decision("c1", channel="sms")
    released = engage.model_copy(update={"decision_id": "released-" + run, "deferred_from": "d0"})
    defer = decision("c2", episode="e2").model_copy(update={"outcome": Outcome.DEFER, "defer_until": T0,
                                                           "reason": ReasonCode.QUIET_HOURS})
    holdout = decision("c3", episode="e3").model_copy(update={"outcome": Outcome.HOLDOUT,
                                                             "reason": ReasonCode.HOLDOUT})
    records = [
        json.dumps(engage.to_dict()).encode(),
        json.dumps(engage.to_dict()).encode(),  # redelivered: the same decision again
        json.dumps(released.to_dict()).encode(),  # another decision for the same (customer, rule, episode)
        json.dumps(defer.to_dict()).encode(),  # its release job publishes an engage later
        json.dumps(holdout.to_dict()).encode(),  # recorded, never messaged
        json.dumps(decision("c5", episode="e5").model_copy(update={"idempotency_key": None}).to_dict()).encode(),
        # ^ poison: an engage without idempotency key (its batch-mates are still enqueued)
        b"{not json",  # poison: not even JSON
        json.dumps({"decision_id": "x", "outcome": "engage"}).encode(),  # poison: not a decision
    ]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
    await producer.start()
    consumer = DecisionsToOutbox(engine, broker.bootstrap, group_id=f"outreach-{run}", topic=decisions,
                                 deadletter_topic=deadletter, clock=lambda: T0)
    for value in records:
        await producer.send_and_wait(decisions, value, key=b"c1")
    async with Supervisor(Health()) as supervisor:
        supervisor.start("outreach.enqueue", consumer.run)
        await wait_for(lambda: consumer.counters.received == len(records), 30, "every record read")
        await wait_for(lambda: consumer.counters.deadletter == 3, 10, "the poison records dead-lettered")
    counters = consumer.counters.as_dict()
    assert counters == {"received": 8, "enqueued": 1, "duplicates": 2, "skipped": {"defer": 1, "holdout": 1},
                        "deadletter": 3}
    rows = outbox_rows(engine)
    assert [(r.customer_id, r.channel, r.state, r.idempotency_key) for r in rows] == [
        ("c1", "sms", "pending", engage.idempotency_key)]
    dead = await read_json_topic(broker.bootstrap, deadletter, 2, lambda rs: len(rs) >= 3)
    assert {d["stage"] for d in dead} == {"outreach.enqueue"}
    assert any("JSONDecodeError" in d["reason"] for d in dead)
    assert any("lacks an idempotency key" in d["reason"] for d in dead)
    assert any("customer_id" in d["reason"] for d in dead)  # names the missing field

    # The group committed its offsets: a new consumer reads only what was published after.
    again = DecisionsToOutbox(engine, broker.bootstrap, group_id=f"outreach-{run}", topic=decisions,
                              deadletter_topic=deadletter, clock=lambda: T0)
    late = decision("c4", episode="e4")
    try:
        async with Supervisor(Health()) as supervisor:
            supervisor.start("outreach.enqueue", again.run)
            await producer.send_and_wait(decisions, json.dumps(late.to_dict()).encode(), key=b"c4")
            await wait_for(lambda: again.counters.enqueued == 1, 30, "the new decision enqueued")
    finally:
        await producer.stop()
    assert again.counters.received == 1
    assert len(outbox_rows(engine)) == 2
    engine.dispose()


class OptedOutSms:
    """An SMS channel answering like Twilio does for a number that replied STOP (21610)."""

    name, provider = "sms", "twilio"

    def __init__(self) -> None:
        self.calls = 0

    def send(self, message):
        self.calls += 1
        raise SendError("unsubscribed recipient", retryable=False, code="21610", opted_out=True, status=400)

    def lookup(self, message_id):
        return None


def _settings(tmp_path, **overrides) -> Settings:
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "late.yaml").write_text(RULES)
    return Settings(data_dir=tmp_path, rules_dir=tmp_path / "rules", public_base_url="http://testserver",
                    unsubscribe_secret=SecretStr(CONFIG.unsubscribe_secret.decode()),
                    contact_hash_key=SecretStr(CONFIG.contact_hash_key.decode()),
                    sms_rate_per_second=100.0, **overrides)


def _sender(settings, engine, **options):
    return build_sender(engine, outbox=settings.outbox, providers=settings.providers, llm=settings.llm,
                        framing=settings.message_framing, rule_for=rule_for_rules_dir(settings.rules_dir), **options)


def _stored_signal(engine, d) -> Signal:
    signal = Signal(kind="shipping_delay", customer_id=d.customer_id, episode_key=d.episode_key, detected_at=T0,
                    reason="not_shipped", attributes={"order_id": "o-17"})
    with session_scope(engine) as session:
        record_signal(session=session, signal=signal)
        session.commit()
    return signal


async def test_send_job_drafts_with_the_rule_and_snapshot_and_publishes_opt_outs_after_commit(tmp_path):
    settings = _settings(tmp_path)
    engine = sqlite_engine(tmp_path)
    add_customer(engine, "c1", email="ada@example.com", phone="+4915112345678")
    add_customer(engine, "c2", phone="+4915187654321")
    # No signal rows: the signals projection lags behind; the decisions carry what drafting reads.
    email, sms = decision("c1", channel="email"), decision("c2", channel="sms", episode="e2")
    with Session(engine) as session:
        for d in (email, sms):
            outbox.enqueue(session=session, decision=d, now=T0)
        session.commit()
    sinks = {"email": SinkChannel("email"), "sms": OptedOutSms()}
    sender = _sender(settings, engine, channels=sinks)
    sender.rng = random.Random(0)
    published = InMemoryConsentPublisher()
    jobs = OutreachJobs(sender, engine=engine, reputation=settings.reputation, consent_publisher=published,
                        clock=lambda: T0)

    report = await jobs.send_due()

    assert report.counts == {"sent": 1, "suppressed": 1}
    [mail] = sinks["email"].delivered
    assert mail.unsubscribe_url and mail.unsubscribe_url.startswith("http://testserver/outreach/unsubscribe?token=")
    assert "o-17" in mail.body  # the signal's facts reached the draft (from the decision's snapshot)
    with Session(engine) as session:
        row = outbox.get_message(session=session, message_id=mail.message_id)
        assert row.rendered["drafter"] == "template" and row.rendered["rule_id"] == "late-notice"
    # The carrier said the number opted out: recorded, published once, and never tried again.
    assert [(c["customer_id"], c["channel"], c["status"]) for c in published.published] == [("c2", "sms", "opted_out")]
    assert (await jobs.send_due()).counts == {}
    assert sinks["sms"].calls == 1 and jobs.totals == {"sent": 1, "suppressed": 1}
    engine.dispose()


def test_rule_for_rules_dir_follows_file_changes(tmp_path):
    settings = _settings(tmp_path)
    rule_for = rule_for_rules_dir(settings.rules_dir, check_seconds=0.0)
    assert rule_for("late-notice").action.channels == ["sms", "email"]
    assert rule_for("no-such-rule") is None
    (settings.rules_dir / "late.yaml").write_text(RULES.replace("version: 1\n    signals", "version: 2\n    signals"))
    assert rule_for("late-notice").version == 2  # re-read without a restart
    (settings.rules_dir / "late.yaml").write_text("rules: [broken")
    assert rule_for("late-notice").version == 2  # a broken edit keeps the rules in force


def test_a_decision_stored_before_snapshots_is_drafted_from_its_signal_row_or_not_at_all(tmp_path):
    settings = _settings(tmp_path)
    engine = sqlite_engine(tmp_path)
    add_customer(engine, "c1", email="ada@example.com")
    add_customer(engine, "c2", email="bob@example.com")
    older = decision("c1").model_copy(update={"snapshot": None})
    orphan = decision("c2", episode="e2").model_copy(update={"snapshot": None})
    _stored_signal(engine, older)
    with Session(engine) as session:
        for d in (older, orphan):
            outbox.enqueue(session=session, decision=d, now=T0)
        session.commit()
    sinks = {"email": SinkChannel("email"), "sms": SinkChannel("sms")}
    report = _sender(settings, engine, channels=sinks).run_once(T0)

    assert report.counts == {"sent": 1, "failed": 1}
    [mail] = sinks["email"].delivered
    assert "o-17" in mail.body  # read from the stored signal row
    with Session(engine) as session:
        [failed] = session.scalars(select(OutboxRecord).where(OutboxRecord.customer_id == "c2"))
        assert "carries no snapshot and its signal is not stored" in failed.last_error  # no stub message
    engine.dispose()


def test_reputation_sweep_pauses_a_rule_over_the_complaint_rate(tmp_path):
    settings = _settings(tmp_path, reputation_min_sends=20)
    engine = sqlite_engine(tmp_path)
    with Session(engine) as session:
        for i in range(20):  # 20 sends of one rule, three spam complaints: at least 0.5 % with 99 % confidence
            d = decision(f"c{i}", episode=f"e{i}")
            message_id = outbox.enqueue(session=session, decision=d, now=T0)
            outbox.transition(session=session, message_id=message_id, now=T0, state=SENT, sent_at=T0)
        for i in range(3):
            session.add(DeliveryEventRecord(event_key=f"sendgrid:{i}", provider="sendgrid", kind="spamreport",
                                            rule_id="late-notice", occurred_at=T0))
        session.commit()
        assert pause_rules_over_threshold(session=session, reputation=settings.reputation, now=T0) == ["late-notice"]
        session.commit()
        assert pause_rules_over_threshold(session=session, reputation=settings.reputation, now=T0) == []  # already paused
        pause = session.get(RulePauseRecord, "late-notice")
        assert pause.sends == 20 and pause.reason.startswith("spam complaints: 3 of 20 e-mails")
    engine.dispose()


def test_development_webhook_keys_are_generated_once_per_data_dir_and_verify(tmp_path):
    settings = Settings(data_dir=tmp_path)
    first, keys = development_webhook_keys(settings)
    again, keys_again = development_webhook_keys(Settings(data_dir=tmp_path))
    assert first.sendgrid_webhook_public_key == again.sendgrid_webhook_public_key  # stable across restarts
    assert first.twilio_auth_token.get_secret_value() == keys_again.twilio_auth_token
    for path in (tmp_path / KEYS_DIR).iterdir():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # owner-only secrets

    # What the demo signs verifies exactly as the webhooks verify provider requests.
    form = {"MessageSid": "SM1", "From": "+4915112345678", "Body": "STOP"}
    url = "http://127.0.0.1:8000/outreach/twilio/inbound"
    assert RequestValidator(first.twilio_auth_token.get_secret_value()).validate(url, form, keys.sign_twilio(url, form))
    payload, timestamp = json.dumps([{"event": "spamreport"}]), str(int(T0.timestamp()))
    signature = keys.sign_sendgrid(payload, timestamp)
    assert EventWebhook(first.sendgrid_webhook_public_key).verify_signature(payload, signature, timestamp)
    assert not EventWebhook(first.sendgrid_webhook_public_key).verify_signature(payload + " ", signature, timestamp)
    assert base64.b64decode(first.sendgrid_webhook_public_key)  # SendGrid's format: base64 DER


@pytest.mark.parametrize("overrides", [
    {},  # nothing configured: still nothing generated outside development
    {"twilio_auth_token": SecretStr("real-token")},  # configured keys pass through untouched
])
def test_webhook_keys_are_never_generated_outside_development(tmp_path, overrides):
    settings = Settings(data_dir=tmp_path, environment="production", **overrides)
    with pytest.raises(ValueError, match="development only"):
        development_webhook_keys(settings)
    unchanged, keys = with_webhook_keys(settings)
    assert unchanged is settings and keys.twilio_auth_token is None and keys.sendgrid_private_key is None
    assert not (tmp_path / KEYS_DIR).exists()


def test_configured_development_keys_are_kept(tmp_path):
    settings = Settings(data_dir=tmp_path, twilio_auth_token=SecretStr("configured"),
                        sendgrid_webhook_public_key="configured-key")
    kept, keys = development_webhook_keys(settings)
    assert kept.twilio_auth_token.get_secret_value() == "configured"
    assert kept.sendgrid_webhook_public_key == "configured-key"
    assert keys.twilio_auth_token is None and keys.sendgrid_private_key is None
