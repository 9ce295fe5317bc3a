"""Service functions over the consent store: keyword-only, session first, the caller commits.

Every change appends a history row and moves the current view, and is returned as a
``ConsentChange`` so the caller can publish it to the ``consent`` topic after committing.
Upstream consent flags on the customer projection count when the store has no row for a topic:
the store (fed by unsubscribes, STOP replies, provider events) is the authority once it has one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, Row, select
from sqlmodel import Session

from infra.database import dialect_insert
from outreach.consent.contact_points import contact_hash
from outreach.consent.locks import lock_for_opt_out
from outreach.consent.policy import REVERSIBLE_SUPPRESSIONS, SUPPRESSION_REASONS, deciding_states, send_verdict
from outreach.consent.records import (
    ConsentChangeRecord,
    ConsentStateRecord,
    ContactPointRecord,
    SuppressionRecord,
)
from signals.records import CustomerRecord
from signals.service import consent_flags
from triggers.policy.consent import ConsentSource, ConsentStanding, ConsentStatus, topics_to_check

@dataclass(frozen=True)
class ConsentChange:
    """One consent change as published on the ``consent`` topic (no personal data)."""

    change_id: str
    customer_id: str
    channel: str
    topic: str
    status: str
    source: str
    changed_at: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the ``consent`` topic."""
        return asdict(self)


def register_contact_point(
    *, session: Session, key: bytes, customer_id: str, channel: str, address: str, now: dt.datetime
) -> str:
    """Store (or update) the customer's address on a channel; returns its keyed hash."""
    hashed = contact_hash(key, channel, address)
    register_contact_points(session=session, points=[(customer_id, channel, address, hashed)], now=now)
    return hashed


def register_contact_points(*, session: Session, points: Iterable[tuple[str, str, str, str]], now: dt.datetime) -> None:
    """Store (or update) many ``(customer_id, channel, address, contact_hash)`` in one statement."""
    rows = [{"customer_id": customer_id, "channel": channel, "address": address, "contact_hash": hashed,
             "updated_at": now} for customer_id, channel, address, hashed in points]
    if not rows:
        return
    stmt = dialect_insert(session, ContactPointRecord.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["customer_id", "channel"],
        set_={"address": stmt.excluded.address, "contact_hash": stmt.excluded.contact_hash,
              "updated_at": stmt.excluded.updated_at},
    )
    session.execute(stmt, rows)


def record_consent(
    *,
    session: Session,
    customer_id: str,
    channel: str,
    topic: str,
    status: ConsentStatus | str,
    source: str,
    changed_at: dt.datetime,
    evidence: dict[str, Any] | None = None,
    contact_hash: str | None = None,
) -> ConsentChange:
    """Append a history row and set the current view (an older change never overwrites a newer one).

    Locks the customer until the commit (``outreach.consent.locks``): no send is decided meanwhile.
    """
    status = ConsentStatus(status).value
    lock_for_opt_out(session, customer_ids=[customer_id])
    change = ConsentChange(
        change_id=uuid.uuid4().hex, customer_id=customer_id, channel=channel, topic=topic, status=status,
        source=source, changed_at=changed_at.astimezone(dt.timezone.utc).isoformat(), evidence=dict(evidence or {}),
    )
    session.add(ConsentChangeRecord(
        change_id=change.change_id, customer_id=customer_id, channel=channel, topic=topic, status=status,
        source=source, evidence=change.evidence, contact_hash=contact_hash, changed_at=changed_at,
    ))
    table = ConsentStateRecord.__table__
    stmt = dialect_insert(session, table).values(
        customer_id=customer_id, channel=channel, topic=topic, status=status, source=source, changed_at=changed_at
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["customer_id", "channel", "topic"],
        set_={"status": status, "source": source, "changed_at": changed_at},
        where=table.c.changed_at <= stmt.excluded.changed_at,
    )
    session.execute(stmt)
    session.flush()
    return change


def suppress(
    *, session: Session, contact_hash: str, channel: str, reason: str, source: str, now: dt.datetime
) -> bool:
    """Suppress a hashed contact point on a channel globally; True when it was not suppressed yet."""
    if reason not in SUPPRESSION_REASONS:
        raise ValueError(f"unknown suppression reason {reason!r}; expected one of {sorted(SUPPRESSION_REASONS)}")
    lock_for_opt_out(session, contact_hashes=[contact_hash])  # until the commit: no send to it is decided meanwhile
    stmt = (
        dialect_insert(session, SuppressionRecord.__table__)
        .values(contact_hash=contact_hash, channel=channel, reason=reason, source=source, created_at=now)
        .on_conflict_do_nothing()
        .returning(SuppressionRecord.__table__.c.contact_hash)
    )
    return session.execute(stmt).first() is not None


def lift_suppression(*, session: Session, contact_hash: str, channel: str) -> bool:
    """Remove a suppression the person may lift themselves (``sms_stop``); True when one was lifted."""
    record = session.get(SuppressionRecord, (contact_hash, channel))
    if record is None or record.reason not in REVERSIBLE_SUPPRESSIONS:
        return False
    session.delete(record)
    session.flush()
    return True


def suppression_of(*, session: Session, contact_hash: str, channel: str) -> str | None:
    """The suppression reason of a hashed contact point, or None."""
    record = session.get(SuppressionRecord, (contact_hash, channel))
    return record.reason if record else None


def contact_point(*, session: Session, customer_id: str, channel: str) -> ContactPointRecord | None:
    """The customer's stored contact point on a channel (address None after erasure)."""
    return session.get(ContactPointRecord, (customer_id, channel))


def contact_points_of(*, session: Session, customer_ids: Collection[str]) -> dict[tuple[str, str], Row[Any]]:
    """Every stored contact point of these customers, by ``(customer_id, channel)`` (one query; plain rows)."""
    if not customer_ids:
        return {}
    table = ContactPointRecord.__table__
    query = select(table).where(table.c.customer_id.in_(set(customer_ids)))
    return {(point.customer_id, point.channel): point for point in session.execute(query)}


def suppressions_of(*, session: Session, contact_hashes: Collection[str]) -> dict[tuple[str, str], str]:
    """The suppression reason of each ``(contact_hash, channel)`` among these hashes (one query)."""
    if not contact_hashes:
        return {}
    query = select(SuppressionRecord.contact_hash, SuppressionRecord.channel, SuppressionRecord.reason).where(
        SuppressionRecord.contact_hash.in_(set(contact_hashes)))
    return {(hashed, channel): reason for hashed, channel, reason in session.execute(query)}


def stored_states_of(*, session: Session, customer_ids: Collection[str]) -> dict[tuple[str, str], dict[str, ConsentStatus]]:
    """The consent store's rows of these customers: ``(customer_id, channel)`` -> topic -> status (one query)."""
    if not customer_ids:
        return {}
    query = select(ConsentStateRecord.customer_id, ConsentStateRecord.channel, ConsentStateRecord.topic,
                   ConsentStateRecord.status).where(ConsentStateRecord.customer_id.in_(set(customer_ids)))
    states: dict[tuple[str, str], dict[str, ConsentStatus]] = {}
    for customer_id, channel, topic, status in session.execute(query):
        states.setdefault((customer_id, channel), {})[topic] = ConsentStatus(status)
    return states


def customers_with_contact(*, session: Session, contact_hash: str, channel: str) -> list[str]:
    """Every customer whose contact point on the channel hashes to ``contact_hash``."""
    query = select(ContactPointRecord.customer_id).where(
        ContactPointRecord.contact_hash == contact_hash, ContactPointRecord.channel == channel
    )
    return list(session.scalars(query))


def consent_states(*, session: Session, customer_id: str, channel: str, topic: str) -> dict[str, ConsentStatus]:
    """The rows that decide ``topic`` on ``channel``, store first, upstream flags where the store is silent."""
    rows = session.scalars(select(ConsentStateRecord).where(
        ConsentStateRecord.customer_id == customer_id,
        ConsentStateRecord.channel == channel,
        ConsentStateRecord.topic.in_(topics_to_check(topic)),
    ))
    stored = {row.topic: ConsentStatus(row.status) for row in rows}
    return deciding_states(stored, consent_flags(session.get(CustomerRecord, customer_id)), channel, topic)


def consent_standing(*, session: Session, customer_id: str, channel: str, topic: str) -> ConsentStanding:
    """The consent rows and the suppression of the customer's stored contact point on ``channel``."""
    point = contact_point(session=session, customer_id=customer_id, channel=channel)
    suppression = suppression_of(session=session, contact_hash=point.contact_hash, channel=channel) if point else None
    states = consent_states(session=session, customer_id=customer_id, channel=channel, topic=topic)
    return ConsentStanding(states, suppression)


def consent_status(*, session: Session, customer_id: str, channel: str, topic: str) -> ConsentStatus:
    """The customer's effective consent for a channel and topic (a suppressed contact point reads as opted out)."""
    return DatabaseConsentView.in_session(session).status(customer_id, channel, topic)


def check_send(
    *, session: Session, customer_id: str, channel: str, topic: str, contact_hash: str | None,
    marketing_email_requires_opt_in: bool = False,
) -> str | None:
    """None when a message to this contact point may go out now, else why not (read at send time)."""
    suppression = (
        suppression_of(session=session, contact_hash=contact_hash, channel=channel) if contact_hash else None
    )
    return send_verdict(
        channel=channel,
        topic=topic,
        states=consent_states(session=session, customer_id=customer_id, channel=channel, topic=topic),
        suppression=suppression,
        has_address=contact_hash is not None,
        marketing_email_requires_opt_in=marketing_email_requires_opt_in,
    )


def history(*, session: Session, customer_id: str) -> list[ConsentChangeRecord]:
    """Every consent change of a customer, oldest first."""
    query = select(ConsentChangeRecord).where(ConsentChangeRecord.customer_id == customer_id)
    return list(session.scalars(query.order_by(ConsentChangeRecord.changed_at, ConsentChangeRecord.recorded_at)))


def current_states(*, session: Session, customer_id: str) -> list[ConsentStateRecord]:
    """The customer's current consent rows (the preference page shows these)."""
    query = select(ConsentStateRecord).where(ConsentStateRecord.customer_id == customer_id)
    return list(session.scalars(query.order_by(ConsentStateRecord.channel, ConsentStateRecord.topic)))


class DatabaseConsentView(ConsentSource):
    """The ``ConsentView`` over the consent store (a session of its own per lookup, or the caller's)."""

    def __init__(self, engine: Engine | None = None, *, session: Session | None = None):
        if (engine is None) == (session is None):
            raise ValueError("give an engine or a session")
        self.engine, self.session = engine, session

    @classmethod
    def in_session(cls, session: Session) -> "DatabaseConsentView":
        """A view that reads through the caller's session."""
        return cls(session=session)

    def standing(self, customer_id: str, channel: str, topic: str) -> ConsentStanding:
        """The stored rows, the upstream flags where the store is silent, and any suppression."""
        if self.session is not None:
            return consent_standing(session=self.session, customer_id=customer_id, channel=channel, topic=topic)
        with Session(self.engine) as session:
            return consent_standing(session=session, customer_id=customer_id, channel=channel, topic=topic)
