"""The stop-and-escalate step: an escalated reply pauses every automated message for a configurable time."""

from __future__ import annotations

import datetime as dt

import pytest

from triggers.decision import decide
from triggers.policy import ContactHistory, InMemoryConsent, PolicyConfig, ReasonCode
from triggers.policy.escalation import Escalation, InMemoryEscalations, escalation_verdict
from triggers.policy.reasons import Outcome


NOON_ISH = dt.datetime(2026, 1, 12, 15, 0, tzinfo=dt.timezone.utc)  # same moment as conftest's
HOUR = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("escalated_ago", "pause", "stopped"),
    [
        (None, dt.timedelta(hours=72), False),  # no escalated reply: nothing to stop
        (HOUR, dt.timedelta(hours=72), True),  # a complaint an hour ago: stopped
        (dt.timedelta(hours=71), dt.timedelta(hours=72), True),  # still inside the pause
        (dt.timedelta(hours=72), dt.timedelta(hours=72), False),  # the pause is half-open: over at its end
        (dt.timedelta(hours=30), dt.timedelta(hours=24), False),  # a shorter configured pause has ended
        (-HOUR, dt.timedelta(hours=72), False),  # an escalation after `now` (a replayed signal) is not seen
    ],
)
def test_escalation_verdict_window(escalated_ago, pause, stopped):
    escalations = InMemoryEscalations()
    if escalated_ago is not None:
        escalations.add("c1", Escalation(NOON_ISH - escalated_ago, "complaint", "conv-1"))
    verdict = escalation_verdict("c1", escalations, NOON_ISH, pause)
    assert (verdict is not None) == stopped
    if stopped:
        reason, detail = verdict
        assert reason == ReasonCode.CONVERSATION_ESCALATED
        assert "complaint" in detail and "conv-1" in detail


def test_latest_escalation_counts():
    escalations = InMemoryEscalations()
    escalations.add("c1", Escalation(NOON_ISH - dt.timedelta(days=10), "complaint", "old"))
    escalations.add("c1", Escalation(NOON_ISH - HOUR, "cancellation", "new"))
    reason, detail = escalation_verdict("c1", escalations, NOON_ISH, PolicyConfig().escalation_pause)
    assert "cancellation" in detail and "new" in detail


@pytest.mark.parametrize("topic", ["marketing", "service"])
def test_decide_stops_every_rule_for_an_escalated_customer(make_rule, make_signal, make_customer, topic):
    rule = make_rule(topic=topic, action={"channels": ["email"], "brief": "x"})
    escalations = InMemoryEscalations({"c1": [Escalation(NOON_ISH - HOUR, "complaint", "conv-1")]})
    [decision] = decide(make_signal(), [rule], make_customer(), None, ContactHistory(), InMemoryConsent(),
                        NOON_ISH, escalations=escalations)
    assert (decision.outcome, decision.reason) == (Outcome.SUPPRESSED, ReasonCode.CONVERSATION_ESCALATED)
    assert decision.idempotency_key  # the episode stays open: after the pause a new signal may speak


def test_other_customers_are_not_stopped(make_rule, make_signal, make_customer):
    escalations = InMemoryEscalations({"c2": [Escalation(NOON_ISH - HOUR, "complaint", "conv-9")]})
    [decision] = decide(make_signal(), [make_rule(action={"channels": ["email"], "brief": "x"})], make_customer(),
                        None, ContactHistory(), InMemoryConsent(), NOON_ISH, escalations=escalations)
    assert decision.outcome == Outcome.ENGAGE


def test_without_an_escalation_port_nothing_changes(make_rule, make_signal, make_customer):
    [decision] = decide(make_signal(), [make_rule(action={"channels": ["email"], "brief": "x"})], make_customer(),
                        None, ContactHistory(), InMemoryConsent(), NOON_ISH)
    assert decision.outcome == Outcome.ENGAGE


def test_retain_explain_shows_the_stop_and_why(make_rule, make_signal, make_customer):
    from rich.console import Console

    from triggers.explain import build_timeline, render_timeline

    signal = make_signal()
    escalations = InMemoryEscalations({"c1": [Escalation(NOON_ISH - HOUR, "cancellation", "conv-7")]})
    decisions = decide(signal, [make_rule(action={"channels": ["email"], "brief": "x"})], make_customer(), None,
                       ContactHistory(), InMemoryConsent(), NOON_ISH, escalations=escalations)
    console = Console(record=True, width=200)
    render_timeline("c1", build_timeline([signal], decisions), console)
    text = console.export_text()
    assert "suppressed (conversation_escalated) winback v1" in text
    assert "cancellation reply in conversation conv-7: automated outreach paused until 2026-01-15T14:00:00+00:00" in text
