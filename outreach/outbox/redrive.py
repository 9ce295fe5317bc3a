"""Engage decisions that never became outbox rows: found in SQL and enqueued again.

In the single-box mode the ``decisions`` topic lives in the embedded broker's memory: a stored
engage decision whose record was still on the topic when the service died would never reach
the outbox. At start the runtime enqueues every such decision; ``enqueue`` is idempotent on the
decision's idempotency key, so one that did make it (or makes it meanwhile) changes nothing.
Decisions past their ``expires_at`` are enqueued too: the sender then records them as expired,
so the outbox still says what became of every engage decision.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlmodel import Session

from outreach.outbox.records import OutboxRecord
from outreach.outbox.service import enqueue
from triggers.decision import Decision
from triggers.records import DecisionRecord
from triggers.service import decision_from_record


def engage_decisions_without_outbox_row(*, session: Session, limit: int = 10_000) -> list[Decision]:
    """Stored ``engage`` decisions whose idempotency key has no outbox row, oldest first."""
    enqueued = select(OutboxRecord.message_id).where(
        OutboxRecord.idempotency_key == DecisionRecord.idempotency_key).exists()
    query = (select(DecisionRecord)
             .where(DecisionRecord.outcome == "engage", DecisionRecord.idempotency_key.is_not(None), ~enqueued)
             .order_by(DecisionRecord.decided_at).limit(limit))
    return [decision_from_record(row) for row in session.scalars(query)]


def enqueue_missing(*, session: Session, now: dt.datetime) -> int:
    """Enqueue every engage decision missing from the outbox; returns how many rows were created."""
    created = 0
    for decision in engage_decisions_without_outbox_row(session=session):
        if enqueue(session=session, decision=decision, now=now) is not None:
            created += 1
    return created
