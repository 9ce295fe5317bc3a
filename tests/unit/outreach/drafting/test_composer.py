"""The outbox-facing composer: the rule in force looked up, the message drafted from the decision's snapshot."""

from __future__ import annotations

import datetime as dt

import pytest

from infra.settings import Settings
from outreach.drafting.brief import PrivateFacts
from outreach.drafting.compose import Composer
from signals.signal import Signal
from triggers.decision import Decision, DecisionSnapshot, Outcome, ReasonCode
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
LINKS = {"unsubscribe_url": "https://shop.test/u/1", "preferences_url": "https://shop.test/p/1"}


def _composer(rule_for) -> Composer:
    return Composer.from_settings(SETTINGS.llm, SETTINGS.message_framing, rule_for=rule_for)


def _decision(rule_id: str = "goodwill", *, snapshot: DecisionSnapshot | None = None) -> Decision:
    return Decision(decision_id="d", signal_id=SIGNAL.signal_id, signal_kind="shipping_delay",
                    episode_key=SIGNAL.episode_key, customer_id="c1", rule_id=rule_id, rule_version=1,
                    topic="marketing", outcome=Outcome.ENGAGE, reason=ReasonCode.ELIGIBLE, channel="email",
                    idempotency_key="k", decided_at=NOW,
                    snapshot=snapshot or DecisionSnapshot.of(SIGNAL, {"first_name": "Anna", "locale": "en"}))


def test_composes_from_the_rule_and_the_decisions_snapshot():
    message = _composer({"goodwill": RULE}.get)(_decision(), private=PrivateFacts(), **LINKS)
    assert message.drafter == "template" and message.passed
    assert "SORRY10" in message.text and "26 November 2026" in message.text and "O-7" in message.subject
    assert "Anna" in message.text
    assert message.text.endswith("Unsubscribe: https://shop.test/u/1")


def test_a_vanished_rule_still_gives_a_safe_message():
    message = _composer(lambda rule_id: None)(_decision("gone"), private=PrivateFacts(), **LINKS)
    assert message.passed and "SORRY10" not in message.text


def test_a_decision_without_a_snapshot_is_not_drafted_from_a_stub():
    bare = _decision().model_copy(update={"snapshot": None})
    with pytest.raises(ValueError, match="carries no snapshot"):
        _composer({"goodwill": RULE}.get)(bare, private=PrivateFacts(), **LINKS)
