"""The explain timeline: signals newest first, decisions under their signal, deferral outcomes nested."""

from __future__ import annotations

import datetime as dt

from rich.console import Console

from triggers.decision import Decision
from triggers.explain import build_timeline, render_timeline
from triggers.policy.reasons import Outcome, ReasonCode

NOON_ISH = dt.datetime(2026, 1, 12, 15, 0, tzinfo=dt.timezone.utc)  # conftest's build_signal moment


def decision(signal, decision_id: str, outcome: Outcome, reason: ReasonCode, **extra) -> Decision:
    return Decision(decision_id=decision_id, signal_id=signal.signal_id, signal_kind=signal.kind,
                    episode_key=signal.episode_key, customer_id=signal.customer_id, rule_id=extra.pop("rule_id", "winback"),
                    rule_version=1, outcome=outcome, reason=reason, decided_at=extra.pop("decided_at", NOON_ISH),
                    **extra)


def test_timeline_groups_decisions_under_signals_newest_first(make_signal):
    build_signal = make_signal
    older = build_signal(episode_key="e-old", detected_at=NOON_ISH - dt.timedelta(days=2))
    newer = build_signal(episode_key="e-new")
    defer = decision(newer, "d1", Outcome.DEFER, ReasonCode.QUIET_HOURS, channel="sms",
                     defer_until=NOON_ISH + dt.timedelta(hours=3), risk=0.7, risk_bucket="high",
                     drivers=(("usage_trend", 0.4),))
    released = decision(newer, "d2", Outcome.ENGAGE, ReasonCode.ELIGIBLE, channel="sms", deferred_from="d1",
                        decided_at=NOON_ISH + dt.timedelta(hours=3))
    suppressed = decision(older, "d3", Outcome.SUPPRESSED, ReasonCode.OPTED_OUT, decided_at=older.detected_at)
    # A decision whose signal row is not stored (yet) still shows.
    orphan = decision(build_signal(episode_key="e-orphan"), "d4", Outcome.SUPPRESSED, ReasonCode.NO_RULE_MATCHED,
                      rule_id=None, decided_at=NOON_ISH - dt.timedelta(days=5))

    timeline = build_timeline([older, newer], [defer, released, suppressed, orphan])

    assert [e["episode_key"] for e in timeline] == ["e-new", "e-old", "e-orphan"]
    (item,) = timeline[0]["decisions"]  # the release is nested, not a decision of its own
    assert (item["outcome"], item["released"]["outcome"]) == ("defer", "engage")
    assert timeline[1]["decisions"][0]["reason"] == "opted_out"
    assert timeline[2]["detected_at"] is None and timeline[2]["decisions"][0]["rule_id"] is None

    console = Console(record=True, width=160)
    render_timeline("c1", timeline, console)
    text = console.export_text()
    assert "deferral job: engage (eligible) winback v1 via sms" in text
    assert "risk 0.70 (high); drivers: usage_trend +0.40" in text
    assert "(signal not stored)" in text


def test_empty_timeline_says_so():
    console = Console(record=True)
    render_timeline("nobody", build_timeline([], []), console)
    assert "no signals or decisions stored for customer nobody" in console.export_text()
