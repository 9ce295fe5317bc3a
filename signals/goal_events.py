"""Which customer events are kept for measuring rule goals, and the idempotent write that keeps them.

Results per rule ask "did the customer do X within D of the message (or of the holdout
decision)?", so the projection stores the envelope (id, customer, type, time) of every event whose
type a rule may name as its goal. The set is fixed and documented here so the table stays bounded:
profile updates (projected into ``customers``), checkout heartbeats (``checkout.activity``, many
per session) and retain's own ``message.sent`` are left out. A rule cannot name a type that is
not kept (``triggers.rule.Goal`` only accepts these).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from signals.events import EVENT_TYPES
from signals.records import GoalEventRecord
from signals.service import _insert

NOT_GOAL_TYPES: frozenset[str] = frozenset({"customer.profile", "checkout.activity", "message.sent"})
GOAL_EVENT_TYPES: tuple[str, ...] = tuple(t for t in EVENT_TYPES if t not in NOT_GOAL_TYPES)


def record_goal_event(*, session: Session, event: Any) -> bool:
    """Keep ``event`` if its type can be a goal; True when it was new (a redelivery changes nothing)."""
    if event.type not in GOAL_EVENT_TYPES:
        return False
    table = GoalEventRecord.__table__
    stmt = (_insert(session, table)
            .values(event_id=event.event_id, customer_id=event.customer_id, type=event.type,
                    occurred_at=event.occurred_at)
            .on_conflict_do_nothing()
            .returning(table.c.event_id))
    return session.execute(stmt).first() is not None
