"""The data behind results per rule: who was sent, who was held out, and who reached the outcome.

Groups: "sent" is every customer whose message from the rule was sent; "holdout" every customer the
rule matched but held out (the deterministic slice, never messaged). The outcome is "returned":
the customer produced any event after the decision (``customers.last_event_at``), the retention
goal every rule shares. Rules do not yet name a goal event of their own and events are not kept in
the database, so conversion-specific goals need that first. Opt-outs are provider opt-out events
(unsubscribe, STOP) attributed to the rule.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterator

from sqlalchemy import func, select
from sqlmodel import Session

from outreach.outbox.records import SENT, DeliveryEventRecord, OutboxRecord
from outreach.reputation import OPT_OUT_KINDS
from retain.console.results import RuleResult, rule_results
from signals.records import CustomerRecord
from triggers.records import DecisionRecord


def assignments(*, session: Session, since: dt.datetime) -> Iterator[tuple[str, str, bool]]:
    """``(rule_id, group, returned)`` for every sent message and every holdout decision since ``since``."""
    sent = (select(OutboxRecord.rule_id, OutboxRecord.sent_at, CustomerRecord.last_event_at)
            .join(CustomerRecord, CustomerRecord.customer_id == OutboxRecord.customer_id, isouter=True)
            .where(OutboxRecord.state == SENT, OutboxRecord.sent_at >= since))
    for rule_id, at, last in session.execute(sent):
        yield rule_id, "sent", last is not None and at is not None and last > at
    held = (select(DecisionRecord.rule_id, DecisionRecord.decided_at, CustomerRecord.last_event_at)
            .join(CustomerRecord, CustomerRecord.customer_id == DecisionRecord.customer_id, isouter=True)
            .where(DecisionRecord.outcome == "holdout", DecisionRecord.rule_id.is_not(None),
                   DecisionRecord.decided_at >= since))
    for rule_id, at, last in session.execute(held):
        yield rule_id, "holdout", last is not None and last > at


def results(*, session: Session, now: dt.datetime, days: int = 30, confidence: float = 0.95) -> list[RuleResult]:
    """Results per rule over the last ``days`` days."""
    since = now - dt.timedelta(days=days)
    opt_outs = dict(session.execute(
        select(DeliveryEventRecord.rule_id, func.count())
        .where(DeliveryEventRecord.kind.in_(OPT_OUT_KINDS), DeliveryEventRecord.rule_id.is_not(None),
               DeliveryEventRecord.occurred_at >= since)
        .group_by(DeliveryEventRecord.rule_id)).all())
    return rule_results(assignments(session=session, since=since), opt_outs, confidence)
