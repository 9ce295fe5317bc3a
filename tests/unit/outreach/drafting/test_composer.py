"""The outbox-facing composer: rule and signal looked up, message drafted with settings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

from outreach.drafting.composer import Composer, signal_from_row
from infra.settings import Settings
from signals.signal import Signal
from triggers.decision import Decision, Outcome, ReasonCode
from triggers.rule import Rule

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=dt.timezone.utc)
SIGNAL = Signal(kind="shipping_delay", customer_id="c1", episode_key="shipping_delay:c1:O-7", detected_at=NOW,
                reason="eta_slip", attributes={"order_id": "O-7", "estimated_delivery_at": "2026-11-26T10:00:00+00:00"})
RULE = Rule.model_validate({
    "id": "goodwill", "version": 1, "signals": ["shipping_delay"], "topic": "marketing",
    "action": {"channels": ["email"], "brief": "Apologise and offer the credit.", "tone": "warm",
               "offers": [{"code": "SORRY10", "description": "10 % off the next order"}]},
})
SETTINGS = Settings(openai_base_url=None, openai_api_key=None, sender_name="Shop")


@dataclass(frozen=True)
class Request:  # the shape of outreach.outbox.sender.ComposeRequest
    decision: Decision
    message_id: str
    customer: Mapping[str, Any]
    unsubscribe_url: str
    preferences_url: str


def _request(rule_id: str = "goodwill") -> Request:
    decision = Decision(decision_id="d", signal_id=SIGNAL.signal_id, signal_kind="shipping_delay",
                        episode_key=SIGNAL.episode_key, customer_id="c1", rule_id=rule_id, rule_version=1,
                        topic="marketing", outcome=Outcome.ENGAGE, reason=ReasonCode.ELIGIBLE, channel="email",
                        idempotency_key="k", decided_at=NOW)
    return Request(decision, "m1", {"first_name": "Anna", "locale": "en"}, "https://shop.test/u/1",
                   "https://shop.test/p/1")


def test_composes_from_rule_and_signal():
    composer = Composer(settings=SETTINGS, rule_for={"goodwill": RULE}.get, signal_for=lambda d: SIGNAL)
    message = composer(_request())
    assert message.drafter == "template" and message.passed
    assert "SORRY10" in message.text and "26 November 2026" in message.text and "O-7" in message.subject
    assert message.text.endswith("Unsubscribe: https://shop.test/u/1")


def test_a_vanished_rule_or_signal_still_gives_a_safe_message():
    composer = Composer(settings=SETTINGS, rule_for=lambda rule_id: None, signal_for=lambda d: None)
    message = composer(_request("gone"))
    assert message.passed and "SORRY10" not in message.text


def test_signal_from_row():
    @dataclass
    class Row:
        kind: str = "usage_drop"
        customer_id: str = "c1"
        episode_key: str = "usage_drop:c1:2026-11-20"
        detected_at: dt.datetime = NOW
        reason: str = "usage_drop"
        attributes: dict | None = None

    assert signal_from_row(Row()).signal_id == Signal(kind="usage_drop", customer_id="c1",
                                                      episode_key="usage_drop:c1:2026-11-20", detected_at=NOW,
                                                      reason="usage_drop").signal_id
