"""Goal events on SQLite and PostgreSQL: the projection keeps goal-type events once, and nothing else."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlmodel import select

from infra.database import session_scope
from signals.projection import Projection
from signals.events import parse_event
from signals.goal_events import record_goal_event
from signals.records import CustomerRecord, GoalEventRecord

pytestmark = pytest.mark.integration

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.timezone.utc)


def _raw(event_id: str, type_: str, properties: dict, hours: float = 0) -> bytes:
    return json.dumps({"event_id": event_id, "customer_id": "c-1", "type": type_,
                       "occurred_at": (T0 + dt.timedelta(hours=hours)).isoformat(),
                       "properties": properties}).encode()


ORDER = _raw("e-order", "order.placed", {"order_id": "o-1", "amount": "20.00", "currency": "EUR",
                                         "promised_ship_by": (T0 + dt.timedelta(days=1)).isoformat(),
                                         "promised_delivery_by": (T0 + dt.timedelta(days=3)).isoformat()})
COMPLETED = _raw("e-done", "checkout.completed", {"checkout_id": "k-1"}, hours=1)
HEARTBEAT = _raw("e-beat", "checkout.activity", {"checkout_id": "k-1"}, hours=2)
PROFILE = _raw("e-profile", "customer.profile", {"first_name": "Ada"}, hours=3)


def test_record_goal_event_keeps_goal_types_once(migrated):
    with session_scope(migrated) as session:
        assert record_goal_event(session=session, event=parse_event(ORDER)) is True
        assert record_goal_event(session=session, event=parse_event(ORDER)) is False  # redelivered
        assert record_goal_event(session=session, event=parse_event(HEARTBEAT)) is False  # not a goal type
        session.commit()
        rows = session.scalars(select(GoalEventRecord)).all()
    assert [(r.event_id, r.customer_id, r.type, r.occurred_at) for r in rows] == [
        ("e-order", "c-1", "order.placed", T0)]


def test_projection_stores_goal_events_and_profiles_idempotently(migrated):
    projection = Projection(migrated, "127.0.0.1:1")  # not started: only its storing is used
    with session_scope(migrated) as session:
        for raw in (ORDER, COMPLETED, HEARTBEAT, PROFILE, ORDER, COMPLETED, b"{not json"):
            projection._store_event(session, raw)
        session.commit()
        kept = sorted(session.scalars(select(GoalEventRecord.event_id)).all())
        customer = session.get(CustomerRecord, "c-1")
    assert kept == ["e-done", "e-order"]
    assert customer is not None and customer.first_name == "Ada"
