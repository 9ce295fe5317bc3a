"""Which customer events are kept for measuring rule goals, and the idempotent write that keeps them.

Results per rule ask "did the customer do X within D of the message (or of the holdout
decision)?", so the projection stores the envelope (id, customer, type, time) of every event whose
type a rule may name as its goal. The set is fixed (``signals.events.GOAL_EVENT_TYPES``) so the table stays bounded:
profile updates (projected into ``customers``), checkout heartbeats (``checkout.activity``, many
per session) and retain's own ``message.sent`` are left out. A rule cannot name a type that is
not kept (``triggers.rule.Goal`` only accepts ``signals.events.GOAL_EVENT_TYPES``).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from infra.database import dialect_insert
from signals.events import GOAL_EVENT_TYPES
from signals.records import GoalEventRecord


def record_goal_event(*, session: Session, event: Any) -> bool:
    """Keep ``event`` if its type can be a goal; True when it was new (a redelivery changes nothing)."""
    if event.type not in GOAL_EVENT_TYPES:
        return False
    table = GoalEventRecord.__table__
    stmt = (dialect_insert(session, table)
            .values(event_id=event.event_id, customer_id=event.customer_id, type=event.type,
                    occurred_at=event.occurred_at)
            .on_conflict_do_nothing()
            .returning(table.c.event_id))
    return session.execute(stmt).first() is not None
