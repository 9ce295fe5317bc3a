"""Results per rule: outcome rate among sent vs holdout, their difference with a confidence interval. Pure.

The interval for the difference of two independent proportions is Newcombe's hybrid score
interval (Newcombe 1998, "Interval estimation for the difference between independent
proportions", Statistics in Medicine 17, method 10): a Wilson score interval for each rate, then

    low  = d - sqrt((p1 - l1)**2 + (u2 - p2)**2)
    high = d + sqrt((u1 - p1)**2 + (p2 - l2)**2)

It keeps close to its nominal coverage for small groups and rates near 0 or 1, where the Wald
interval (d +- z * sqrt(p1 q1 / n1 + p2 q2 / n2)) collapses to zero width or leaves [-1, 1].
The Wald interval is reported too, for readers who expect it. Example (Newcombe's table II, a):

>>> c = compare(GroupCounts(70, 56), GroupCounts(80, 48))
>>> round(c.difference, 4), round(c.low, 4), round(c.high, 4)
(0.2, 0.0524, 0.3339)
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Iterable


@dataclass(frozen=True)
class GroupCounts:
    """How many customers a group holds and how many of them reached the outcome."""

    n: int
    successes: int

    @property
    def rate(self) -> float | None:
        """The outcome rate, or None for an empty group."""
        return self.successes / self.n if self.n else None


@dataclass(frozen=True)
class Comparison:
    """Treated minus control: the rates, the difference and its intervals (None when a group is empty)."""

    treated_rate: float | None
    control_rate: float | None
    difference: float | None
    low: float | None
    high: float | None
    wald_low: float | None
    wald_high: float | None
    confidence: float


def z_value(confidence: float) -> float:
    """The two-sided standard normal quantile for ``confidence`` (1.96 for 0.95)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval for one proportion."""
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def compare(treated: GroupCounts, control: GroupCounts, confidence: float = 0.95) -> Comparison:
    """Difference of outcome rates (treated - control) with Newcombe's and Wald's intervals."""
    if not treated.n or not control.n:
        return Comparison(treated.rate, control.rate, None, None, None, None, None, confidence)
    z = z_value(confidence)
    p1, p2 = treated.successes / treated.n, control.successes / control.n
    l1, u1 = wilson(treated.successes, treated.n, z)
    l2, u2 = wilson(control.successes, control.n, z)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    se = math.sqrt(p1 * (1 - p1) / treated.n + p2 * (1 - p2) / control.n)
    return Comparison(p1, p2, d, low, high, d - z * se, d + z * se, confidence)


@dataclass(frozen=True)
class RuleResult:
    """One rule's sent and holdout groups, the comparison, the opt-out rate among sent, and the goal measured."""

    rule_id: str
    sent: GroupCounts
    holdout: GroupCounts
    comparison: Comparison
    opt_outs: int
    goal: dict[str, Any] | None = None  # {"events": [...], "within": "7d"}: what counted as the outcome
    # Per rule version measured: [{"version", "events", "within", "sent", "holdout"}], newest first.
    goals: list[dict[str, Any]] | None = None
    # Mean uplift the served uplift model predicted for the rule's sent messages (probability, like
    # ``comparison.difference``), beside the measured lift; None when no sent decision carried one.
    predicted_lift: float | None = None

    @property
    def opt_out_rate(self) -> float | None:
        """Opt-outs per sent message, or None before anything was sent."""
        return self.opt_outs / self.sent.n if self.sent.n else None

    def to_dict(self) -> dict:
        """JSON-able form for ``/api/results``."""
        c = self.comparison
        return {"rule_id": self.rule_id, "sent": self.sent.n, "sent_outcomes": self.sent.successes,
                "holdout": self.holdout.n, "holdout_outcomes": self.holdout.successes,
                "sent_rate": c.treated_rate, "holdout_rate": c.control_rate, "difference": c.difference,
                "ci_low": c.low, "ci_high": c.high, "wald_low": c.wald_low, "wald_high": c.wald_high,
                "confidence": c.confidence, "opt_outs": self.opt_outs, "opt_out_rate": self.opt_out_rate,
                "goal": self.goal, "goals": self.goals or [], "predicted_lift": self.predicted_lift}


def rule_results(
    assignments: Iterable[tuple[str, str, bool]], opt_outs: dict[str, int] | None = None, confidence: float = 0.95,
    goals: dict[str, dict[str, Any]] | None = None, version_goals: dict[str, list[dict[str, Any]]] | None = None,
    predicted: dict[str, float] | None = None,
) -> list[RuleResult]:
    """Aggregate ``(rule_id, group, reached_outcome)`` rows (group "sent" or "holdout") per rule.

    ``goals`` describes each rule's goal, ``version_goals`` the goal of each rule version measured,
    ``predicted`` the mean predicted uplift (probability) of each rule's sent messages.
    """
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: {"sent": [0, 0], "holdout": [0, 0]})
    for rule_id, group, reached in assignments:
        if group not in ("sent", "holdout"):
            raise ValueError(f"group must be 'sent' or 'holdout', not {group!r}")
        cell = counts[rule_id][group]
        cell[0] += 1
        cell[1] += int(bool(reached))
    opt_outs, goals, version_goals, predicted = opt_outs or {}, goals or {}, version_goals or {}, predicted or {}
    results = []
    for rule_id in sorted(counts.keys() | opt_outs.keys()):
        sent, holdout = GroupCounts(*counts[rule_id]["sent"]), GroupCounts(*counts[rule_id]["holdout"])
        results.append(RuleResult(rule_id, sent, holdout, compare(sent, holdout, confidence), opt_outs.get(rule_id, 0),
                                  goals.get(rule_id), version_goals.get(rule_id), predicted.get(rule_id)))
    return results
