"""The reputation guard on a real SQLite database: it counts each channel on its own volume, pauses on
evidence (not on one complaint), and tells ops with a signed webhook that is retried until a local
receiver accepts it, once per pause."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from pydantic import SecretStr
from sqlmodel import Session

from infra.settings import Settings
from outreach.jobs import OutreachJobs, pause_rules_over_threshold
from outreach.outbox import service as outbox
from outreach.outbox.records import SENT, DeliveryEventRecord, RulePauseRecord
from outreach.pause_notices import SIGNATURE_HEADER, verify
from outreach.reputation import count_reactions, resume_rule
from outreach.reputation_verdict import Counts, Thresholds
from tests.fakes.http_server import Fault, FakeServer, Reply
from tests.fakes.outreach_world import T0, decision, sqlite_engine

pytestmark = pytest.mark.integration

RULE = "late-notice"
SECRET = "ops-webhook-secret-for-tests-only-0123456789"


def _send(session: Session, count: int, *, channel: str = "email", first: int = 0) -> list[str]:
    ids = []
    for i in range(first, first + count):
        message_id = outbox.enqueue(session=session, decision=decision(f"c{i}", episode=f"e{i}", channel=channel),
                                    now=T0)
        outbox.transition(session=session, message_id=message_id, now=T0, state=SENT, sent_at=T0)
        ids.append(message_id)
    return ids


def _react(session: Session, key: str, kind: str, at: dt.datetime = T0) -> None:
    session.add(DeliveryEventRecord(event_key=key, provider="test", kind=kind, rule_id=RULE, occurred_at=at))


def test_counts_sends_and_reactions_per_channel_within_the_window(tmp_path):
    engine = sqlite_engine(tmp_path)
    with Session(engine) as session:
        _send(session, 30, channel="email")
        _send(session, 12, channel="sms", first=100)
        for i, kind in enumerate(["spamreport", "unsubscribe", "group_unsubscribe", "sms_opt_out", "delivered"]):
            _react(session, f"k{i}", kind)
        _react(session, "old", "spamreport", at=T0 - dt.timedelta(days=30))  # outside the window
        session.commit()
        counts = count_reactions(session=session, rule_id=RULE, since=T0 - dt.timedelta(days=7))
    assert counts == Counts(email_sends=30, sms_sends=12, complaints=1, email_opt_outs=2, sms_opt_outs=1)
    engine.dispose()


def test_one_report_among_24_emails_is_noise_three_are_evidence(tmp_path):
    settings = Settings(data_dir=tmp_path)
    engine = sqlite_engine(tmp_path)
    with Session(engine) as session:
        _send(session, 24)
        _react(session, "spam-1", "spamreport")  # the old demo's "4.17 % over 24 sends"
        session.commit()
        assert pause_rules_over_threshold(session=session, reputation=settings.reputation, now=T0) == []
        _react(session, "spam-2", "spamreport")
        _react(session, "spam-3", "spamreport")
        session.commit()
        assert pause_rules_over_threshold(session=session, reputation=settings.reputation, now=T0) == [RULE]
        session.commit()
        assert pause_rules_over_threshold(session=session, reputation=settings.reputation, now=T0) == []  # once
        pause = session.get(RulePauseRecord, RULE)
        assert pause.reason.startswith("spam complaints: 3 of 24 e-mails (12.50 %), at least ")
        complaints = pause.evidence[0]
        assert (complaints["measure"], complaints["reactions"], complaints["sends"], complaints["over"]) == (
            "spam complaints", 3, 24, True)
        assert complaints["lower"] > complaints["limit"] == Thresholds().max_complaint_rate
        assert pause.notified_at is None  # ops are told by the notice job, after this commit
    engine.dispose()


class OpsReceiver(FakeServer):
    """An ops endpoint that accepts every notice (faults are scripted per test)."""

    def handle(self, method, path, headers, body):
        return Reply(200, {"ok": True})


def _paused(tmp_path, settings: Settings):
    engine = sqlite_engine(tmp_path)
    with Session(engine) as session:
        _send(session, 24)
        for i in range(3):
            _react(session, f"spam-{i}", "spamreport")
        session.commit()
        assert pause_rules_over_threshold(session=session, reputation=settings.reputation, now=T0) == [RULE]
        session.commit()
    return engine


async def test_a_pause_notice_is_signed_retried_after_a_failure_and_sent_once(tmp_path):
    with OpsReceiver() as receiver:
        settings = Settings(data_dir=tmp_path, ops_webhook_url=f"{receiver.url}/hooks/retain",
                            ops_webhook_secret=SecretStr(SECRET), public_base_url="https://retain.example.org")
        engine = _paused(tmp_path, settings)
        jobs = OutreachJobs(None, engine=engine, reputation=settings.reputation, clock=lambda: T0)  # no sender needed
        receiver.script(Fault(status=503))

        assert await jobs.announce_pauses() == []  # the receiver is down: not marked, tried again next pass
        with Session(engine) as session:
            assert session.get(RulePauseRecord, RULE).notified_at is None
        assert await jobs.announce_pauses() == [RULE]
        assert await jobs.announce_pauses() == []  # announced once
        with Session(engine) as session:
            assert session.get(RulePauseRecord, RULE).notified_at == T0

        failed, accepted = receiver.requests
        assert accepted["path"] == "/hooks/retain" and accepted["body"] == failed["body"]
        headers = {k.lower(): v for k, v in accepted["headers"].items()}
        assert verify(accepted["body"], headers[SIGNATURE_HEADER.lower()], secret=SECRET.encode(), now=time.time())
        assert not verify(accepted["body"].replace(b"late-notice", b"other-rule"), headers[SIGNATURE_HEADER.lower()],
                          secret=SECRET.encode(), now=time.time())
        assert not verify(accepted["body"], headers[SIGNATURE_HEADER.lower()], secret=b"wrong", now=time.time())
        assert not verify(accepted["body"], headers[SIGNATURE_HEADER.lower()], secret=SECRET.encode(),
                          now=time.time() + 3600)  # a replay an hour later
        payload = json.loads(accepted["body"])
        assert headers["idempotency-key"] == payload["id"]
        assert payload["event"] == "rule.paused" and payload["rule_id"] == RULE
        assert payload["console_url"] == "https://retain.example.org/console/rules/late-notice"
        assert payload["evidence"][0]["reactions"] == 3 and payload["evidence"][0]["over"] is True
        assert "@" not in accepted["body"].decode()  # rule and statistics only, no contact details
    engine.dispose()


async def test_a_rule_paused_again_after_a_resume_is_announced_again(tmp_path):
    with OpsReceiver() as receiver:
        settings = Settings(data_dir=tmp_path, ops_webhook_url=receiver.url, ops_webhook_secret=SecretStr(SECRET))
        engine = _paused(tmp_path, settings)
        later = T0 + dt.timedelta(hours=1)
        jobs = OutreachJobs(None, engine=engine, reputation=settings.reputation, clock=lambda: T0)
        assert await jobs.announce_pauses() == [RULE]
        with Session(engine) as session:
            assert resume_rule(session=session, rule_id=RULE)
            session.commit()
            assert pause_rules_over_threshold(session=session, reputation=settings.reputation, now=later) == [RULE]
            session.commit()
        assert await jobs.announce_pauses() == [RULE]
        first, second = (json.loads(r["body"]) for r in receiver.requests)
        assert first["id"] != second["id"]
    engine.dispose()


async def test_without_a_webhook_the_pause_is_logged_and_marked(tmp_path, caplog):
    settings = Settings(data_dir=tmp_path)
    engine = _paused(tmp_path, settings)
    jobs = OutreachJobs(None, engine=engine, reputation=settings.reputation, clock=lambda: T0)
    assert await jobs.announce_pauses() == [RULE]
    assert "rule late-notice paused by the reputation guard" in caplog.text
    engine.dispose()
