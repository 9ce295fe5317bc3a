"""Backtest rules on history: the real detectors, scorer and policy, in event time, no I/O.

``run_backtest`` replays events through ``signals.customer_fold.replay`` (the detectors and
customer facts of the fold the worker runs), scores with the given scorer, and calls the same
``decide`` with ``now = signal.detected_at`` and a contact history built from the backtest's own
earlier decisions (``history_from_decisions``, exactly as the worker derives it from stored
decisions). The risk features are the fold's too, kept aside in a ``ReplayFeatures`` (folded in
place, read only for a signal being scored; the worker attaches the same values to every
signal's context), so they cost nothing without a scorer.

A ``defer`` is released at its ``defer_until``, where the service re-checks the relevance
window first (``triggers.deferred.release``): one released at or after its ``expires_at``
counts as ``expired`` / ``relevance_passed`` and stops counting as a planned send from then on;
any other counts as a message on its release day. (``decide`` itself turns a send time at or
after the expiry into ``expired_in_quiet_hours``, so this only guards defers it did not make
that way.) Consent and caps are not re-checked at release. ``BacktestReport`` aggregates per
rule and per day: messages by channel, suppressions by reason, holdouts, and how often rules
collide.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

from signals.customer_fold import CustomerFold, ReplayFeatures, default_fold, replay
from signals.events import parse_event
from signals.signal import Signal
from triggers.decision import Decision, decide
from triggers.decision_history import history_from_decisions
from triggers.policy import PolicyConfig
from triggers.policy.reasons import Outcome, ReasonCode
from triggers.ruleset import RuleSet
from triggers.signal_context import ScorerLike, UpstreamConsent, customer_facts, score_context, signal_context

# Earlier decisions older than this no longer matter to caps or cooldowns (see service.HISTORY_LOOKBACK).
HISTORY_LOOKBACK = dt.timedelta(days=90)


@dataclass
class BacktestReport:
    """Counts of what the rules would have done; ``to_dict`` is the ``--json`` output."""

    events: int = 0
    malformed: int = 0
    signals: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    per_rule: dict[str, dict[str, Counter]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(Counter)))
    per_day: dict[str, dict[str, Counter]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(Counter)))
    multi_match_signals: int = 0
    collisions: Counter = field(default_factory=Counter)

    def add(self, signal: Signal, decisions: list[Decision]) -> None:
        """Count one signal's decisions."""
        self.signals[signal.kind] += 1
        matched = [d for d in decisions if d.rule_id is not None]
        if len(matched) > 1:
            self.multi_match_signals += 1
            winner = next((d.rule_id for d in matched if d.outcome != Outcome.SUPERSEDED), matched[0].rule_id)
            for d in matched:
                if d.outcome == Outcome.SUPERSEDED:
                    self.collisions[f"{winner} > {d.rule_id}"] += 1
        for d in decisions:
            outcome, reason = (Outcome.EXPIRED, ReasonCode.RELEVANCE_PASSED) if expires_before_release(d) else (
                d.outcome, d.reason)
            self.outcomes[outcome.value] += 1
            rule = self.per_rule[d.rule_id or "(no rule matched)"]
            rule["outcomes"][outcome.value] += 1
            if outcome in (Outcome.ENGAGE, Outcome.DEFER) and d.channel is not None:
                rule["messages"][d.channel] += 1
                sent = d.defer_until or d.decided_at
                self.per_day[sent.date().isoformat()][d.rule_id or ""][d.channel] += 1
            elif outcome in (Outcome.SUPPRESSED, Outcome.EXPIRED, Outcome.SUPERSEDED):
                rule["suppressed"][reason.value] += 1

    @property
    def messages(self) -> int:
        """Messages that would go out (engage now or after quiet hours)."""
        return self.outcomes[Outcome.ENGAGE.value] + self.outcomes[Outcome.DEFER.value]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, keys sorted."""
        return {
            "events": self.events,
            "malformed_events": self.malformed,
            "signals": dict(sorted(self.signals.items())),
            "decisions": sum(self.outcomes.values()),
            "messages": self.messages,
            "outcomes": dict(sorted(self.outcomes.items())),
            "per_rule": {
                rule: {part: dict(sorted(counts.items())) for part, counts in sorted(parts.items())}
                for rule, parts in sorted(self.per_rule.items())
            },
            "per_day": {
                day: {rule: dict(sorted(ch.items())) for rule, ch in sorted(rules.items())}
                for day, rules in sorted(self.per_day.items())
            },
            "collisions": {"signals_matching_several_rules": self.multi_match_signals,
                           "superseded": dict(sorted(self.collisions.items()))},
        }


def expires_before_release(decision: Decision) -> bool:
    """A defer whose release time is at or after its expiry: the service's release expires it."""
    return (decision.outcome == Outcome.DEFER and decision.defer_until is not None
            and decision.expires_at is not None and decision.defer_until >= decision.expires_at)


def parsed_events(raw_events: Iterable[Mapping[str, Any] | Any], report: BacktestReport) -> Iterator[Any]:
    """Parse raw event dicts (already parsed events pass through); malformed ones are counted, skipped."""
    for raw in raw_events:
        report.events += 1
        if hasattr(raw, "event_id") and hasattr(raw, "occurred_at"):
            yield raw
            continue
        try:
            yield parse_event(raw)
        except Exception:  # noqa: BLE001 - the worker dead-letters these; a backtest counts them
            report.malformed += 1


def run_backtest(
    raw_events: Iterable[Mapping[str, Any] | Any],
    rules: RuleSet,
    *,
    scorer: ScorerLike | None = None,
    policy_config: PolicyConfig | None = None,
    fold: CustomerFold | None = None,
    keep_features: bool = False,
    on_decisions: Callable[[list[Decision]], None] | None = None,
    watch: Callable[[Iterator[Any]], Iterator[Any]] | None = None,
) -> BacktestReport:
    """Replay events through the real fold, scorer and policy; returns the aggregated report.

    ``keep_features`` folds the features even without a scorer (decisions then carry them),
    ``on_decisions`` sees every signal's decisions, ``watch`` wraps the parsed event stream
    (``triggers.uplift_data`` uses these three to build uplift rows from the same replay).
    """
    config = policy_config or PolicyConfig()
    report = BacktestReport()
    for rule in rules:
        report.per_rule[rule.id]["outcomes"]  # every rule shows up, even one that never matched
    inner = fold or default_fold()
    # The fold without its features: only scoring reads them, so they are folded aside (or not at all).
    without_features = CustomerFold(inner.detectors, allowed_lateness=inner.allowed_lateness,
                                    dedup_window=inner.dedup_window, features=None)
    wanted = scorer is not None or keep_features
    features = ReplayFeatures(inner.features) if wanted and hasattr(inner.features, "vector") else None
    events = parsed_events(raw_events, report)
    sends: dict[str, list[Decision]] = defaultdict(list)
    for signal in replay(watch(events) if watch is not None else events, without_features,
                         on_fold=features.on_fold if features is not None else None):
        values = features.values(signal.customer_id, signal.detected_at) if features is not None else None
        decisions = decide_offline(signal, rules, scorer, sends, config, features=values)
        report.add(signal, decisions)
        if on_decisions is not None:
            on_decisions(decisions)
    return report


def decide_offline(
    signal: Signal, rules: RuleSet, scorer: ScorerLike | None, sends: dict[str, list[Decision]], config: PolicyConfig,
    *, features: Mapping[str, Any] | None = None,
) -> list[Decision]:
    """``decide`` at ``signal.detected_at`` with history from ``sends`` (updated in place).

    ``features`` (name -> value) replaces the signal context's, for a fold that attached none.
    """
    now = signal.detected_at
    context = signal_context(signal)
    if features is not None:
        context["features"] = features
    facts = customer_facts(context)
    past = sends[signal.customer_id]
    if past and past[0].decided_at < now - HISTORY_LOOKBACK:
        past[:] = [d for d in past if d.decided_at >= now - HISTORY_LOOKBACK]
    # A defer that expires at its release stops being a planned send once released.
    known = [d for d in past if not (d.defer_until is not None and d.defer_until <= now and expires_before_release(d))]
    decisions = decide(signal, rules, facts, score_context(scorer, context), history_from_decisions(known),
                       UpstreamConsent.of(signal.customer_id, facts), now, config, features=features)
    past.extend(d for d in decisions if d.outcome in (Outcome.ENGAGE, Outcome.DEFER))
    return decisions
