"""The backtest agrees with a direct ``decide`` loop and with the worker's eager feature fold; a
defer released after its expiry counts as expired, as the service's release decides it."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from signals import features
from simulator import Simulator
from simulator.writer import write_events
from signals.customer_fold import default_fold, replay
from signals.events import parse_event
from triggers.backtest import (
    BacktestReport,
    decide_offline,
    parsed_events,
    run_backtest,
)
from triggers.cli import app
from triggers.decision import decide
from triggers.decision_history import history_from_decisions
from triggers.loader import load_rules
from triggers.policy import InMemoryConsent, PolicyConfig
from triggers.policy.reasons import Outcome
from triggers.risk import Risk
from triggers.signal_context import UpstreamConsent, customer_facts

RULES = Path(__file__).resolve().parents[3] / "rules"


@pytest.fixture(scope="module")
def history() -> list[dict]:
    """A small seeded simulation (a few thousand events)."""
    return list(Simulator(150, 25, seed=3).run())


def direct_loop(events: list[dict], rules) -> Counter:
    """The reference: replay, then decide each signal with history from earlier engage/defer decisions."""
    outcomes: Counter = Counter()
    past: dict[str, list] = {}
    for signal in replay((parse_event(e) for e in events), default_fold()):
        facts = customer_facts(signal.context)
        mine = past.setdefault(signal.customer_id, [])
        decisions = decide(signal, rules, facts, None, history_from_decisions(mine),
                           UpstreamConsent.of(signal.customer_id, facts), signal.detected_at)
        mine += [d for d in decisions if d.outcome in (Outcome.ENGAGE, Outcome.DEFER)]
        outcomes.update((d.rule_id or "(no rule matched)", d.outcome.value, d.reason.value) for d in decisions)
    return outcomes


def test_backtest_counts_match_a_direct_decide_loop(history):
    rules = load_rules(RULES)
    report = run_backtest(history, rules).to_dict()
    expected = direct_loop(history, rules)
    assert sum(expected.values()) > 50  # the simulation produced something worth comparing

    by_rule_outcome: Counter = Counter()
    for (rule, outcome, _reason), n in expected.items():
        by_rule_outcome[(rule, outcome)] += n
    got = Counter({(rule, outcome): n for rule, parts in report["per_rule"].items()
                   for outcome, n in parts.get("outcomes", {}).items()})
    assert got == by_rule_outcome
    messages = sum(n for (_, outcome, _), n in expected.items() if outcome in ("engage", "defer"))
    assert report["messages"] == messages
    # Every message lands on exactly one day and one channel.
    assert sum(n for rules_ in report["per_day"].values() for ch in rules_.values() for n in ch.values()) == messages
    # Every rule is listed, even one that never matched.
    assert set(report["per_rule"]) >= {rule.id for rule in rules}


def test_malformed_events_are_counted_not_fatal(history):
    broken = [{"event_id": "x", "type": "no.such.type"}, *history[:500]]
    report = run_backtest(broken, load_rules(RULES))
    assert (report.events, report.malformed) == (501, 1)


def test_cli_backtest_json(history, tmp_path):
    events = tmp_path / "history.jsonl"
    write_events(events, history)
    result = CliRunner().invoke(app, ["backtest", str(RULES), "--events", str(events), "--json", "--no-model"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["events"] == len(history)
    assert data["messages"] == run_backtest(history, load_rules(RULES)).messages


def test_cli_backtest_rejects_bad_rules(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nrules:\n  - id: x\n")
    events = tmp_path / "e.jsonl"
    events.write_text("")
    result = CliRunner().invoke(app, ["backtest", str(bad), "--events", str(events)])
    assert result.exit_code == 1
    assert f"{bad}:3:" in result.output


def risk_of(vector) -> Risk:
    """A risk from a few features, so that rules reading ``risk.bucket`` go both ways."""
    named = dict(zip(features.FEATURE_NAMES, vector))
    trend, orders = named["usage_trend"], named["orders_total"]
    if not math.isnan(trend) and trend < 0.8:
        return Risk(probability=0.9, bucket="high")
    return Risk(probability=0.4, bucket="medium") if orders > 1 else Risk(probability=0.1, bucket="low")


class RecordingScorer:
    """A ``ScorerLike`` that keeps every vector it scores."""

    feature_names = features.FEATURE_NAMES

    def __init__(self) -> None:
        self.vectors: list[list[float]] = []

    def score(self, vector) -> Risk:
        self.vectors.append(list(vector))
        return risk_of(vector)


def eager_backtest(events, rules, scorer) -> BacktestReport:
    """The reference: the worker's fold (features in every signal's context), then decide each signal."""
    report = BacktestReport()
    for rule in rules:
        report.per_rule[rule.id]["outcomes"]
    sends = defaultdict(list)
    for signal in replay(parsed_events(events, report), default_fold()):
        report.add(signal, decide_offline(signal, rules, scorer, sends, PolicyConfig()))
    return report


def test_features_folded_aside_give_the_report_and_scores_of_the_eager_fold(history):
    rules = load_rules(RULES)
    eager_scorer, lean_scorer = RecordingScorer(), RecordingScorer()
    expected = eager_backtest(history, rules, eager_scorer).to_dict()
    got = run_backtest(history, rules, scorer=lean_scorer).to_dict()
    assert len(eager_scorer.vectors) > 50
    assert {"low", "high"} <= {risk_of(v).bucket for v in eager_scorer.vectors}
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)
    # Every signal was scored from the same feature values (NaN compared as NaN).
    assert json.dumps(lean_scorer.vectors) == json.dumps(eager_scorer.vectors)


NIGHT = dt.datetime(2026, 1, 12, 8, 0, tzinfo=dt.UTC)  # 03:00 in New York: SMS waits for 08:00
MORNING = dt.datetime(2026, 1, 12, 13, 0, tzinfo=dt.UTC)


@pytest.fixture
def expiring_defer(make_rule, make_signal, make_customer):
    """A defer released (at 08:00 New York) after its rule's expiry, as the service's release sees it."""
    rule = make_rule(id="nudge", topic="service", relevance="12h", action={"channels": ["sms"], "brief": "Hi."})
    signal = make_signal(detected_at=NIGHT)
    (defer,) = decide(signal, [rule], make_customer(), None, history_from_decisions([]), InMemoryConsent(), NIGHT)
    assert defer.outcome == Outcome.DEFER and defer.defer_until == MORNING
    return rule, signal, defer.model_copy(update={"expires_at": MORNING - dt.timedelta(hours=1)})


def test_a_defer_released_after_its_expiry_counts_as_expired_not_as_a_message(expiring_defer):
    _, signal, defer = expiring_defer
    report = BacktestReport()
    report.add(signal, [defer])
    data = report.to_dict()
    assert (data["messages"], data["outcomes"], data["per_day"]) == (0, {"expired": 1}, {})
    assert data["per_rule"]["nudge"]["suppressed"] == {"relevance_passed": 1}


def test_a_defer_released_after_its_expiry_blocks_the_episode_only_until_its_release(expiring_defer, make_customer):
    rule, signal, defer = expiring_defer
    customer = {"customer": {**make_customer(), "email_present": True}}
    sends = {"c1": [defer]}  # what the backtest keeps of earlier decisions
    waiting = signal.model_copy(update={"detected_at": MORNING - dt.timedelta(hours=2), "context": customer})
    released = signal.model_copy(update={"detected_at": MORNING + dt.timedelta(hours=1), "context": customer})
    (before,) = decide_offline(waiting, [rule], None, sends, PolicyConfig())
    (after,) = decide_offline(released, [rule], None, sends, PolicyConfig())
    assert before.reason.value == "already_sent_for_episode"  # the defer is still pending
    assert after.outcome == Outcome.ENGAGE  # released as expired: it never went out
