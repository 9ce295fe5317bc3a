"""The backtest agrees with a direct ``decide`` loop over the same replayed signals."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retain.simulator import Simulator
from retain.simulator.writer import write_events
from signals.customer_fold import default_fold, replay
from signals.events import parse_event
from triggers.backtest import run_backtest
from triggers.cli import app
from triggers.decision import decide
from triggers.decision_history import history_from_decisions
from triggers.loader import load_rules
from triggers.policy.reasons import Outcome
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
