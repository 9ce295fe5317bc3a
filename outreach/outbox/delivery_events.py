"""Recording provider events once, and applying what they mean to the outbox and the consent store.

Every webhook handler goes through ``record_event`` first: an event key seen before returns
False and the handler changes nothing else, so a provider that delivers the same event twice
(they all do) cannot record two opt-outs or move a status back.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlmodel import Session

from infra.database import dialect_insert
from outreach.outbox.records import SENT, DeliveryEventRecord, OutboxRecord


def record_event(
    *, session: Session, event_key: str, provider: str, kind: str, occurred_at: dt.datetime,
    message_id: str | None = None, rule_id: str | None = None, customer_id: str | None = None,
) -> bool:
    """Store a provider event once; True when it is new."""
    table = DeliveryEventRecord.__table__
    stmt = (
        dialect_insert(session, table)
        .values(event_key=event_key, provider=provider, kind=kind, message_id=message_id, rule_id=rule_id,
                customer_id=customer_id, occurred_at=occurred_at, recorded_at=dt.datetime.now(dt.timezone.utc))
        .on_conflict_do_nothing()
        .returning(table.c.event_key)
    )
    return session.execute(stmt).first() is not None


def set_provider_status(*, session: Session, message_id: str, status: str, now: dt.datetime) -> None:
    """Note the provider's latest status on a message (the outbox state stays as it is)."""
    session.execute(
        update(OutboxRecord).where(OutboxRecord.message_id == message_id)
        .values(provider_status=status, updated_at=now)
    )


def last_sent_to(*, session: Session, customer_ids: list[str], channel: str) -> OutboxRecord | None:
    """The newest message sent to any of these customers on a channel (what a reply answers)."""
    if not customer_ids:
        return None
    query = (
        select(OutboxRecord)
        .where(OutboxRecord.customer_id.in_(customer_ids), OutboxRecord.channel == channel,
               OutboxRecord.state == SENT)
        .order_by(OutboxRecord.sent_at.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def events_of(*, session: Session, message_id: str) -> list[DeliveryEventRecord]:
    """Every provider event recorded for a message, oldest first."""
    query = select(DeliveryEventRecord).where(DeliveryEventRecord.message_id == message_id)
    return list(session.scalars(query.order_by(DeliveryEventRecord.occurred_at)))
