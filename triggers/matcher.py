"""Which rules a signal matches: enabled, reacting to the signal's kind, conditions true."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from signals.signal import Signal
from triggers.conditions import evaluate
from triggers.risk import Risk
from triggers.rule import Rule


def condition_context(signal: Signal, customer: Mapping[str, Any], risk: Risk) -> dict[str, Any]:
    """The data conditions read: ``signal.*`` (attributes plus identity fields), ``customer.*``, ``risk.*``."""
    signal_fields = dict(signal.attributes)
    signal_fields.update(
        kind=signal.kind, reason=signal.reason, customer_id=signal.customer_id, episode_key=signal.episode_key,
    )
    return {"signal": signal_fields, "customer": dict(customer), "risk": risk.context()}


def match_rules(signal: Signal, rules: Iterable[Rule], customer: Mapping[str, Any], risk: Risk) -> list[Rule]:
    """The enabled rules for this signal kind whose conditions hold, in the given order."""
    context = condition_context(signal, customer, risk)
    return [
        rule for rule in rules
        if rule.enabled and signal.kind in rule.signals and evaluate(rule.when, context)
    ]
