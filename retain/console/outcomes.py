"""The data behind results per rule: who was sent, who was held out, and who reached the rule's goal.

Groups: "sent" is every customer whose message from the rule was sent; "holdout" every customer the
rule matched but held out (the deterministic slice, never messaged). The outcome is the rule's goal
(``Rule.effective_goal``): a goal event of one of the goal's types (``goal_events`` table, kept by
the projection) after the send, or after the holdout decision, and no later than ``within``.
A row whose window is still open counts as "not reached yet"; both groups are equally affected,
so the difference stays fair while it fills in. Each exposure is measured by the goal of the rule
VERSION its decision was made under (``DecisionRecord.rule_version`` -> the stored
``rule_versions`` content of that version, the one live at the decision when a version number
holds several contents), so editing a rule's goal does not re-measure what earlier versions sent.
Without a stored version (or a decision naming none) the topic's default goal is used. Opt-outs
are provider opt-out events (unsubscribe, STOP) attributed to the rule.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Iterator

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlmodel import Session

from outreach.conversations.records import ANSWER_RULE_ID
from outreach.outbox.records import SENT, DeliveryEventRecord, OutboxRecord
from outreach.reputation import OPT_OUT_KINDS
from retain.console.results import RuleResult, rule_results
from signals.records import GoalEventRecord
from triggers.records import DecisionRecord, RuleVersionRecord
from triggers.rule import DEFAULT_GOALS, Goal, Rule
from triggers.uplift_data import reached_goal  # the outcome definition, written once (also trains uplift)

# (rule_id, group, customer_id, at, topic, rule_version, decided_at): one sent message or one holdout decision.
Exposure = tuple[str, str, str, dt.datetime, str | None, int | None, dt.datetime | None]
# (rule_id, version) -> [(first_seen_at, goal)], oldest first.
VersionGoals = dict[tuple[str, int], list[tuple[dt.datetime, Goal]]]


def default_goal(topic: str | None) -> Goal:
    """The default goal of a topic (marketing's for an unknown one)."""
    return DEFAULT_GOALS.get(topic or "", DEFAULT_GOALS["marketing"])


def version_goals(*, session: Session) -> VersionGoals:
    """The goal of every stored rule version (the topic's default when it names none)."""
    goals: VersionGoals = defaultdict(list)
    rows = session.scalars(select(RuleVersionRecord)
                           .order_by(RuleVersionRecord.first_seen_at, RuleVersionRecord.content_hash))
    for row in rows:
        try:
            goal = Rule.model_validate(row.content).effective_goal
        except ValidationError:
            # A version stored under an older rule format: its topic still picks a default goal.
            goal = default_goal(row.content.get("topic"))
        goals[(row.rule_id, row.version)].append((row.first_seen_at, goal))
    return dict(goals)


def goal_of(goals: VersionGoals, rule_id: str, version: int | None, decided_at: dt.datetime | None,
            topic: str | None) -> Goal:
    """The goal of ``rule_id`` version ``version`` as live at ``decided_at``; the topic default when not stored."""
    seen = goals.get((rule_id, version)) if version is not None else None
    if not seen:
        return default_goal(topic)
    # One version number may hold several contents (saved without a bump): the one live at the decision.
    live = [goal for first_seen, goal in seen if decided_at is None or first_seen <= decided_at]
    return live[-1] if live else seen[0][1]


def exposures(*, session: Session, since: dt.datetime) -> Iterator[Exposure]:
    """Every sent message and every holdout decision since ``since``, with the rule version decided under."""
    sent = (select(OutboxRecord.rule_id, OutboxRecord.customer_id, OutboxRecord.sent_at, OutboxRecord.topic,
                   DecisionRecord.rule_version, DecisionRecord.decided_at, OutboxRecord.decision)
            .join(DecisionRecord, DecisionRecord.decision_id == OutboxRecord.decision_id, isouter=True)
            .where(OutboxRecord.state == SENT, OutboxRecord.sent_at >= since,
                   OutboxRecord.rule_id != ANSWER_RULE_ID))  # people's answers are no rule's exposure
    for rule_id, customer_id, at, topic, version, decided_at, decision in session.execute(sent):
        if version is None:  # the decisions table lacks it: the decision stored with the message has it
            version = (decision or {}).get("rule_version")
        yield rule_id, "sent", customer_id, at, topic, version, decided_at or at
    held = (select(DecisionRecord.rule_id, DecisionRecord.customer_id, DecisionRecord.decided_at, DecisionRecord.topic,
                   DecisionRecord.rule_version)
            .where(DecisionRecord.outcome == "holdout", DecisionRecord.rule_id.is_not(None),
                   DecisionRecord.decided_at >= since))
    for rule_id, customer_id, at, topic, version in session.execute(held):
        yield rule_id, "holdout", customer_id, at, topic, version, at


def _goal_times(session: Session, customers: set[str], types: set[str], since: dt.datetime,
                ) -> dict[tuple[str, str], list[dt.datetime]]:
    times: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
    ids = sorted(customers)
    for start in range(0, len(ids), 500):  # bounded IN lists
        query = (select(GoalEventRecord.customer_id, GoalEventRecord.type, GoalEventRecord.occurred_at)
                 .where(GoalEventRecord.customer_id.in_(ids[start:start + 500]), GoalEventRecord.type.in_(types),
                        GoalEventRecord.occurred_at > since)
                 .order_by(GoalEventRecord.occurred_at))
        for customer_id, type_, at in session.execute(query):
            times[(customer_id, type_)].append(at)
    return times


def measure(*, session: Session, since: dt.datetime, goals: VersionGoals | None = None,
            ) -> tuple[list[tuple[str, str, bool]], dict[str, list[dict[str, Any]]]]:
    """``(rule_id, group, reached_goal)`` per exposure since ``since``, and per rule the goals used.

    Each exposure is measured by the goal of the rule version its decision was made under; the
    goals used are ``{rule_id: [{"version", "events", "within", "sent", "holdout"}]}``, newest version first.
    """
    goals = version_goals(session=session) if goals is None else goals
    rows = list(exposures(session=session, since=since))
    used = [goal_of(goals, rule_id, version, decided_at, topic)
            for rule_id, _, _, _, topic, version, decided_at in rows]
    types = {t for goal in used for t in goal.events}
    times = _goal_times(session, {r[2] for r in rows}, types, since) if rows else {}
    measured = [(rule_id, group, any(reached_goal(at, goal.within, times.get((customer_id, t), []))
                                     for t in goal.events))
                for (rule_id, group, customer_id, at, *_), goal in zip(rows, used)]
    described: dict[tuple[str, int | None, str], dict[str, Any]] = {}
    for (rule_id, group, *_, version, _at), goal in zip(rows, used):
        entry = described.setdefault((rule_id, version, goal.model_dump_json()), {
            "version": version, **goal.model_dump(mode="json"), "sent": 0, "holdout": 0})
        entry[group] += 1
    per_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (rule_id, version, _), entry in sorted(described.items(), key=lambda kv: (kv[0][0], -(kv[0][1] or 0))):
        per_rule[rule_id].append(entry)
    return measured, dict(per_rule)


def results(*, session: Session, now: dt.datetime, days: int = 30, confidence: float = 0.95) -> list[RuleResult]:
    """Results per rule over the last ``days`` days, each exposure measured by its rule version's goal."""
    since = now - dt.timedelta(days=days)
    measured, used = measure(session=session, since=since)
    opt_outs = dict(session.execute(
        select(DeliveryEventRecord.rule_id, func.count())
        .where(DeliveryEventRecord.kind.in_(OPT_OUT_KINDS), DeliveryEventRecord.rule_id.is_not(None),
               DeliveryEventRecord.occurred_at >= since)
        .group_by(DeliveryEventRecord.rule_id)).all())
    # ``goal``: the newest measured version's goal; ``goals``: every version's goal with its group sizes.
    newest = {rule_id: {"events": entries[0]["events"], "within": entries[0]["within"]}
              for rule_id, entries in used.items()}
    return rule_results(measured, opt_outs, confidence, newest, used, predicted_lift(session=session, since=since))


def predicted_lift(*, session: Session, since: dt.datetime) -> dict[str, float]:
    """Per rule: the mean uplift (probability; decisions store points) predicted for its sent decisions."""
    rows = session.execute(
        select(DecisionRecord.rule_id, func.avg(DecisionRecord.uplift))
        .where(DecisionRecord.outcome.in_(("engage", "defer")), DecisionRecord.rule_id.is_not(None),
               DecisionRecord.uplift.is_not(None), DecisionRecord.decided_at >= since)
        .group_by(DecisionRecord.rule_id))
    return {rule_id: float(mean) / 100 for rule_id, mean in rows if mean is not None}


def uplift_table(*, session: Session, since: dt.datetime, now: dt.datetime, feature_names: list[str]) -> Any:
    """Uplift training rows from the stored engage/defer/holdout decisions since ``since``.

    The same builder as a backtest's (``triggers.uplift_data.uplift_rows``), with each decision's
    goal from its rule version (``goal_of``, as ``measure`` does) and goal events from the
    ``goal_events`` table; the window starts at the decision (the moment the holdout randomised).
    """
    from triggers.uplift_data import Exposure, uplift_rows

    goals = version_goals(session=session)
    rows = session.execute(
        select(DecisionRecord.rule_id, DecisionRecord.rule_version, DecisionRecord.customer_id,
               DecisionRecord.decided_at, DecisionRecord.outcome, DecisionRecord.topic, DecisionRecord.features,
               DecisionRecord.uplift, DecisionRecord.risk)
        .where(DecisionRecord.outcome.in_(("engage", "defer", "holdout")), DecisionRecord.rule_id.is_not(None),
               DecisionRecord.features.is_not(None), DecisionRecord.decided_at >= since)
        .order_by(DecisionRecord.decided_at, DecisionRecord.decision_id)).all()
    exposures = [Exposure(rule_id, version, customer_id, at, outcome != "holdout",
                          goal_of(goals, rule_id, version, at, topic), features, uplift, risk)
                 for rule_id, version, customer_id, at, outcome, topic, features, uplift, risk in rows]
    types = {t for e in exposures for t in e.goal.events}
    times = _goal_times(session, {e.customer_id for e in exposures}, types, since) if exposures else {}
    return uplift_rows(exposures, times, feature_names, now=now)
