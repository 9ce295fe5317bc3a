"""The data behind results per rule: who was sent, who was held out, and who reached the rule's goal.

Groups: "sent" is every customer whose message from the rule was sent; "holdout" every customer the
rule matched but held out (the deterministic slice, never messaged). The outcome is the rule's goal
(``Rule.effective_goal``): a goal event of one of the goal's types (``goal_events`` table, kept by
the projection) after the send, or after the holdout decision, and no later than ``within``.
A row whose window is still open counts as "not reached yet"; both groups are equally affected,
so the difference stays fair while it fills in. The goal is the one of the rule's newest stored
version (``rule_versions``). Opt-outs are provider opt-out events (unsubscribe, STOP) attributed
to the rule.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from typing import Iterator

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlmodel import Session

from outreach.outbox.records import SENT, DeliveryEventRecord, OutboxRecord
from outreach.reputation import OPT_OUT_KINDS
from retain.console.results import RuleResult, rule_results
from signals.records import GoalEventRecord
from triggers.records import DecisionRecord, RuleVersionRecord
from triggers.rule import DEFAULT_GOALS, Goal, Rule

# (rule_id, group, customer_id, at, topic): one sent message or one holdout decision.
Exposure = tuple[str, str, str, dt.datetime, str | None]


def reached_goal(at: dt.datetime, within: dt.timedelta, times: list[dt.datetime]) -> bool:
    """True when a time in the sorted ``times`` lies after ``at`` and no later than ``at + within``."""
    i = bisect.bisect_right(times, at)
    return i < len(times) and times[i] <= at + within


def rule_goals(*, session: Session) -> dict[str, Goal]:
    """The goal of each rule's newest stored version (the topic's default when it names none)."""
    goals: dict[str, Goal] = {}
    rows = session.scalars(select(RuleVersionRecord)
                           .order_by(RuleVersionRecord.first_seen_at, RuleVersionRecord.version))
    for row in rows:  # oldest first: the newest version of each rule is written last
        try:
            goals[row.rule_id] = Rule.model_validate(row.content).effective_goal
        except ValidationError:
            # A version stored under an older rule format: its topic still picks a default goal.
            goals[row.rule_id] = DEFAULT_GOALS.get(row.content.get("topic"), DEFAULT_GOALS["marketing"])
    return goals


def exposures(*, session: Session, since: dt.datetime) -> Iterator[Exposure]:
    """Every sent message and every holdout decision since ``since``."""
    sent = (select(OutboxRecord.rule_id, OutboxRecord.customer_id, OutboxRecord.sent_at, OutboxRecord.topic)
            .where(OutboxRecord.state == SENT, OutboxRecord.sent_at >= since))
    for rule_id, customer_id, at, topic in session.execute(sent):
        yield rule_id, "sent", customer_id, at, topic
    held = (select(DecisionRecord.rule_id, DecisionRecord.customer_id, DecisionRecord.decided_at, DecisionRecord.topic)
            .where(DecisionRecord.outcome == "holdout", DecisionRecord.rule_id.is_not(None),
                   DecisionRecord.decided_at >= since))
    for rule_id, customer_id, at, topic in session.execute(held):
        yield rule_id, "holdout", customer_id, at, topic


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


def measure(*, session: Session, since: dt.datetime, goals: dict[str, Goal] | None = None,
            ) -> tuple[list[tuple[str, str, bool]], dict[str, Goal]]:
    """``(rule_id, group, reached_goal)`` per sent message and holdout decision since ``since``, and the goals used."""
    goals = rule_goals(session=session) if goals is None else goals
    rows = list(exposures(session=session, since=since))
    # A rule without a stored version (not seen by a worker yet) is measured by its topic's default.
    used = {r[0]: goals.get(r[0]) or DEFAULT_GOALS.get(r[4] or "", DEFAULT_GOALS["marketing"]) for r in rows}
    types = {t for goal in used.values() for t in goal.events}
    times = _goal_times(session, {r[2] for r in rows}, types, since) if rows else {}
    measured = [(rule_id, group, any(reached_goal(at, used[rule_id].within, times.get((customer_id, t), []))
                                     for t in used[rule_id].events))
                for rule_id, group, customer_id, at, _ in rows]
    return measured, {**goals, **used}


def results(*, session: Session, now: dt.datetime, days: int = 30, confidence: float = 0.95) -> list[RuleResult]:
    """Results per rule over the last ``days`` days, each measured by the rule's goal."""
    since = now - dt.timedelta(days=days)
    measured, goals = measure(session=session, since=since)
    opt_outs = dict(session.execute(
        select(DeliveryEventRecord.rule_id, func.count())
        .where(DeliveryEventRecord.kind.in_(OPT_OUT_KINDS), DeliveryEventRecord.rule_id.is_not(None),
               DeliveryEventRecord.occurred_at >= since)
        .group_by(DeliveryEventRecord.rule_id)).all())
    described = {rule_id: goal.model_dump(mode="json") for rule_id, goal in goals.items()}
    return rule_results(measured, opt_outs, confidence, described)
