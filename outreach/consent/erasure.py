"""Erasure requests: personal data removed, suppressions kept in hashed form.

The customer's addresses, names and every rendered message are cleared; each contact point's
keyed hash is suppressed (reason ``erased``) so the person is never contacted again, and earlier
suppressions stay as they were. The customer id (a pseudonym) stays on history rows, so "why did
X get a message?" keeps an answer without holding who X is.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlmodel import Session

from outreach.consent.locks import lock_for_opt_out
from outreach.consent.records import ContactPointRecord, ErasureRecord
from outreach.consent.service import suppress
from signals.records import CustomerContactRecord, CustomerRecord


def erase_customer(*, session: Session, customer_id: str, now: dt.datetime) -> int:
    """Erase a customer's personal data; returns how many contact points were suppressed."""
    # The customer first, then (read under it) the points: no send to them is decided meanwhile.
    lock_for_opt_out(session, customer_ids=[customer_id])
    points = list(session.scalars(select(ContactPointRecord).where(ContactPointRecord.customer_id == customer_id)))
    lock_for_opt_out(session, contact_hashes=[point.contact_hash for point in points])
    for point in points:
        suppress(session=session, contact_hash=point.contact_hash, channel=point.channel, reason="erased",
                 source="erasure_request", now=now)
    session.execute(
        update(ContactPointRecord).where(ContactPointRecord.customer_id == customer_id).values(address=None)
    )
    session.execute(
        update(CustomerRecord).where(CustomerRecord.customer_id == customer_id)
        .values(first_name=None, last_name=None, email=None, phone=None)
    )
    # Nobody finds the person by their address any more (the suppressions above still recognise it).
    session.execute(delete(CustomerContactRecord).where(CustomerContactRecord.customer_id == customer_id))
    # Imported here: the outbox depends on consent, not the other way round.
    from outreach.outbox.records import OutboxRecord

    session.execute(
        update(OutboxRecord).where(OutboxRecord.customer_id == customer_id)
        .values(subject=None, body=None, rendered={})
    )
    from outreach.conversations.service import erase_texts  # conversations depend on consent, too

    erase_texts(session=session, customer_id=customer_id)
    session.merge(ErasureRecord(customer_id=customer_id, requested_at=now, completed_at=now))
    session.flush()
    return len(points)
