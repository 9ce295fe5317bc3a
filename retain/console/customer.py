"""A customer's timeline for the console: ``retain explain``'s signals and decisions, plus messages, consent
and, when the stream worker set the customer aside, its quarantine."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from outreach.consent.records import ConsentChangeRecord
from outreach.outbox.records import DeliveryEventRecord, OutboxRecord
from retain.console.messages import message_entry
from signals.quarantine_store import quarantine_of
from signals.records import SignalRecord
from signals.service import signal_from_record
from triggers.explain import build_timeline
from triggers.service import list_decisions


def customer_timeline(*, session: Session, customer_id: str, now: dt.datetime, days: int = 90,
                      limit: int = 200) -> dict[str, Any]:
    """Signals with their decisions (newest first), messages with delivery events, and consent changes."""
    since = now - dt.timedelta(days=days)
    rows = session.scalars(select(SignalRecord).where(SignalRecord.customer_id == customer_id,
                                                      SignalRecord.detected_at > since)
                           .order_by(SignalRecord.detected_at.desc()).limit(limit))
    signals = [signal_from_record(r) for r in rows]
    decisions = list_decisions(session=session, customer_id=customer_id, since=since, limit=limit)
    messages = list(session.scalars(select(OutboxRecord).where(OutboxRecord.customer_id == customer_id)
                                    .order_by(OutboxRecord.created_at.desc()).limit(limit)))
    ids = [m.message_id for m in messages]
    events: dict[str, list[dict[str, Any]]] = {}
    if ids:
        for e in session.scalars(select(DeliveryEventRecord).where(DeliveryEventRecord.message_id.in_(ids))
                                 .order_by(DeliveryEventRecord.occurred_at)):
            events.setdefault(e.message_id, []).append({"kind": e.kind, "provider": e.provider,
                                                        "occurred_at": e.occurred_at.isoformat()})
    consent = session.scalars(select(ConsentChangeRecord).where(ConsentChangeRecord.customer_id == customer_id)
                              .order_by(ConsentChangeRecord.changed_at.desc()).limit(limit))
    return {
        "customer_id": customer_id, "since": since.isoformat(),
        "quarantine": quarantine_of(session=session, customer_id=customer_id),
        "timeline": build_timeline(signals, decisions),
        "messages": [{**message_entry(m), "delivery_events": events.get(m.message_id, [])} for m in messages],
        "consent": [{"channel": c.channel, "topic": c.topic, "status": c.status, "source": c.source,
                     "changed_at": c.changed_at.isoformat()} for c in consent],
    }
