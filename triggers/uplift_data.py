"""Uplift training rows from our own decisions: engage vs holdout, features at the decision, goal reached.

A rule's deterministic holdout is a randomised experiment: a matched customer is messaged
(``treated`` 1: engage or defer) or held out (``treated`` 0) by a hash, not by anything about
them. Each such decision with the features as of the decision is one training row; its
``outcome`` is the results page's definition, written once here (``reached_goal``): a goal event
of one of the rule version's goal types after the decision and no later than its ``within``.
Unlike the results page, which counts an open window as "not reached yet" in both groups, a
training row needs a known outcome, so decisions whose window is still open are left out.

The same ``uplift_rows`` builds the table from the database (``retain.uplift_data``, stored
decisions and goal events) and from a backtest (``backtest_uplift_rows``: the replayed decisions
and the goal events of the same history).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

import pandas as pd

from triggers.policy.reasons import Outcome
from triggers.rule import Goal

GoalTimes = Mapping[tuple[str, str], Sequence[dt.datetime]]  # (customer_id, goal event type) -> sorted times


def reached_goal(at: dt.datetime, within: dt.timedelta, times: Sequence[dt.datetime]) -> bool:
    """True when a time in the sorted ``times`` lies after ``at`` and no later than ``at + within``."""
    i = bisect.bisect_right(times, at)
    return i < len(times) and times[i] <= at + within


@dataclass(frozen=True)
class Exposure:
    """One engage/holdout decision of a rule, with the goal of the rule version it was made under."""

    rule_id: str
    rule_version: int | None
    customer_id: str
    decided_at: dt.datetime
    treated: bool
    goal: Goal
    features: Mapping[str, Any] | None
    uplift: float | None = None  # what the served uplift model predicted (points), if any
    risk: float | None = None  # the churn risk the decision saw, if scored


def outcome_of(exposure: Exposure, goal_times: GoalTimes) -> bool:
    """Whether the exposure's customer reached its goal within the window."""
    return any(reached_goal(exposure.decided_at, exposure.goal.within, goal_times.get((exposure.customer_id, t), ()))
               for t in exposure.goal.events)


def uplift_rows(exposures: Iterable[Exposure], goal_times: GoalTimes, feature_names: Sequence[str], *,
                now: dt.datetime) -> pd.DataFrame:
    """One row per exposure whose goal window has closed by ``now`` and whose features are known."""
    rows = []
    for e in exposures:
        if e.features is None or e.decided_at + e.goal.within > now:
            continue
        row: dict[str, Any] = {"rule_id": e.rule_id, "rule_version": e.rule_version, "customer_id": e.customer_id,
                               "decided_at": e.decided_at, "treated": int(e.treated),
                               "outcome": int(outcome_of(e, goal_times)), "predicted_uplift": e.uplift,
                               "risk": e.risk}
        row.update({name: e.features.get(name) for name in feature_names})
        rows.append(row)
    columns = ["rule_id", "rule_version", "customer_id", "decided_at", "treated", "outcome", "predicted_uplift",
               "risk", *feature_names]
    table = pd.DataFrame(rows, columns=columns)
    table.attrs["retain"] = {"feature_names": list(feature_names), "kind": "uplift"}
    return table


def exposure_of(decision: Any, goal: Goal) -> Exposure | None:
    """The exposure a decision is (engage/defer: messaged, holdout: held out), else None."""
    if decision.rule_id is None or decision.outcome not in (Outcome.ENGAGE, Outcome.DEFER, Outcome.HOLDOUT):
        return None
    return Exposure(decision.rule_id, decision.rule_version, decision.customer_id, decision.decided_at,
                    decision.outcome != Outcome.HOLDOUT, goal, decision.features, decision.uplift, decision.risk)


class GoalTimesCollector:
    """Collects goal event times per (customer, type) from events streaming past (one pass)."""

    def __init__(self, types: Iterable[str]) -> None:
        self.types = set(types)
        self.times: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)

    def watch(self, events: Iterable[Any]) -> Iterator[Any]:
        """Yield every event, remembering the goal events' times."""
        for event in events:
            type_ = getattr(event, "type", None)
            if type_ in self.types:
                self.times[(event.customer_id, type_)].append(event.occurred_at)
            yield event

    def sorted_times(self) -> dict[tuple[str, str], list[dt.datetime]]:
        """The collected times, each list sorted."""
        return {key: sorted(values) for key, values in self.times.items()}


def backtest_uplift_rows(raw_events: Iterable[Any], rules: Any, feature_names: Sequence[str], *,
                         scorer: Any = None, policy_config: Any = None, now: dt.datetime | None = None,
                         ) -> pd.DataFrame:
    """Uplift rows from replaying history through the rules (the backtest's decisions and goal events).

    ``now`` (default: the last event's time) closes the goal windows, as the database builder's ``now`` does.
    """
    from triggers.backtest import run_backtest

    goals = {rule.id: rule.effective_goal for rule in rules}
    collector = GoalTimesCollector({t for goal in goals.values() for t in goal.events})
    exposures: list[Exposure] = []
    last: list[dt.datetime] = []

    def keep(decisions: list[Any]) -> None:
        for decision in decisions:
            exposure = exposure_of(decision, goals[decision.rule_id]) if decision.rule_id in goals else None
            if exposure is not None:
                exposures.append(exposure)

    def watch(events: Iterator[Any]) -> Iterator[Any]:
        for event in collector.watch(events):
            if not last or event.occurred_at > last[0]:
                last[:] = [event.occurred_at]
            yield event

    run_backtest(raw_events, rules, scorer=scorer, policy_config=policy_config, keep_features=True,
                 on_decisions=keep, watch=watch)
    end = now or (last[0] if last else dt.datetime.now(dt.timezone.utc))
    return uplift_rows(exposures, collector.sorted_times(), feature_names, now=end)
