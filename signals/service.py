"""Service functions over the signals tables: keyword-only, session first, the caller commits.

Writes are single ``INSERT .. ON CONFLICT`` statements on PostgreSQL and SQLite alike, so two
workers racing on the same customer or the same episode cannot both "win" or fail on a duplicate
key: the newest profile event wins, and a signal is stored exactly once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any, Callable

from sqlalchemy import Row, case, func, select
from sqlmodel import Session

from infra.database import dialect_insert
from signals.records import CustomerContactRecord, CustomerRecord, SignalRecord, utcnow
from signals.signal import Signal

# customer.profile payload field -> CustomerRecord column (consent flags are nested upstream).
_PROFILE_COLUMNS: dict[str, str] = {
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "phone": "phone",
    "time_zone": "time_zone",
    "locale": "locale",
    "country": "country",
    "region": "region",
    "plan": "plan",
    "signed_up_at": "signed_up_at",
}
_CONSENT_COLUMNS: dict[str, str] = {
    "email_marketing": "email_marketing_consent",
    "sms_marketing": "sms_marketing_consent",
    "email_service": "email_service_consent",
    "sms_service": "sms_service_consent",
}


def consent_flags(record: CustomerRecord | None) -> dict[str, bool]:
    """The upstream consent flags a customer row holds, by flag name (``sms_marketing``: True); unknown ones left out."""
    if record is None:
        return {}
    values = {flag: getattr(record, column) for flag, column in _CONSENT_COLUMNS.items()}
    return {flag: value for flag, value in values.items() if value is not None}


def carries_consent(event: Any) -> bool:
    """Whether a ``customer.profile`` event sets any upstream consent flag (an opt-out among them, maybe)."""
    if event.type != "customer.profile":
        return False
    values = profile_values(event)
    return any(column in values for column in _CONSENT_COLUMNS.values())


def profile_values(event: Any) -> dict[str, Any]:
    """The customer columns a ``customer.profile`` event sets (fields it leaves out are absent)."""
    props = event.properties
    values = {column: getattr(props, field) for field, column in _PROFILE_COLUMNS.items()}
    values.update({column: getattr(props.consent, field) for field, column in _CONSENT_COLUMNS.items()})
    return {column: value for column, value in values.items() if value is not None}


def upsert_customer_profile(*, session: Session, event: Any) -> bool:
    """Apply a ``customer.profile`` event; True when it changed the row (older events are ignored).

    A newer event overwrites the fields it carries and keeps the others: a profile event that
    only updates the plan does not erase the e-mail address.
    """
    if event.type != "customer.profile":
        raise ValueError(f"expected a customer.profile event, got {event.type!r}")
    occurred_at = event.occurred_at.astimezone(dt.timezone.utc)
    values = profile_values(event)
    table = CustomerRecord.__table__
    stmt = dialect_insert(session, table).values(
        customer_id=event.customer_id, updated_at=occurred_at, last_event_at=occurred_at, **values
    )
    excluded = stmt.excluded
    updates: dict[str, Any] = {column: func.coalesce(excluded[column], table.c[column]) for column in values}
    updates["updated_at"] = excluded.updated_at
    # last_event_at only moves forward (other event types may have moved it past this profile).
    updates["last_event_at"] = case(
        (excluded.last_event_at > table.c.last_event_at, excluded.last_event_at), else_=table.c.last_event_at
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.customer_id],
        set_=updates,
        where=table.c.updated_at < excluded.updated_at,
    ).returning(table.c.customer_id)
    return session.execute(stmt).first() is not None


def note_customer_activity(*, session: Session, customer_id: str, occurred_at: dt.datetime) -> None:
    """Move ``last_event_at`` forward for a customer we already know (unknown ids are ignored)."""
    table = CustomerRecord.__table__
    session.execute(
        table.update()
        .where(table.c.customer_id == customer_id, table.c.last_event_at < occurred_at)
        .values(last_event_at=occurred_at)
    )


def record_signal(*, session: Session, signal: Signal) -> bool:
    """Store a signal once; True when it is new, False when its episode was already recorded."""
    stmt = (
        dialect_insert(session, SignalRecord.__table__)
        .values(
            signal_id=signal.signal_id,
            kind=signal.kind,
            customer_id=signal.customer_id,
            episode_key=signal.episode_key,
            reason=signal.reason,
            detected_at=signal.detected_at,
            attributes=signal.attributes,
            recorded_at=utcnow(),
        )
        .on_conflict_do_nothing()
        .returning(SignalRecord.__table__.c.signal_id)
    )
    # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT (psycopg reports -1).
    return session.execute(stmt).first() is not None


def get_customer(*, session: Session, customer_id: str) -> CustomerRecord | None:
    """The customer projection, or None when no profile event was seen."""
    return session.get(CustomerRecord, customer_id)


def customers_by_id(*, session: Session, customer_ids: Collection[str]) -> dict[str, Row[Any]]:
    """The stored customers among ``customer_ids``, by id (one query; an unknown id is absent).

    Plain rows with every column, read like the record (``row.email``; ``row._mapping`` for a
    dict): loading ORM objects costs more than the query for the sender's chunks.
    """
    if not customer_ids:
        return {}
    table = CustomerRecord.__table__
    query = select(table).where(table.c.customer_id.in_(set(customer_ids)))
    return {row.customer_id: row for row in session.execute(query)}


def signals_by_id(*, session: Session, signal_ids: Collection[str]) -> dict[str, SignalRecord]:
    """The stored signals among ``signal_ids``, by id (one query)."""
    if not signal_ids:
        return {}
    query = select(SignalRecord).where(SignalRecord.signal_id.in_(set(signal_ids)))
    return {signal.signal_id: signal for signal in session.scalars(query)}


def list_signals(*, session: Session, customer_id: str | None = None, limit: int = 100) -> list[SignalRecord]:
    """The newest signals first, optionally of one customer."""
    query = select(SignalRecord).order_by(SignalRecord.detected_at.desc(), SignalRecord.signal_id).limit(limit)
    if customer_id is not None:
        query = query.where(SignalRecord.customer_id == customer_id)
    return list(session.scalars(query))


def signal_from_record(record: SignalRecord) -> Signal:
    """The domain ``Signal`` back from its stored row."""
    return Signal(
        kind=record.kind,
        customer_id=record.customer_id,
        episode_key=record.episode_key,
        detected_at=record.detected_at,
        reason=record.reason,
        attributes=record.attributes,
    )


# A keyed hash of an address on a channel ("email" or "sms"); raises ValueError for an unusable address.
ContactHasher = Callable[[str, str], str]
CONTACT_COLUMNS = {"email": "email", "sms": "phone"}


def index_contacts(*, session: Session, customer_id: str, addresses: dict[str, str | None], hasher: ContactHasher,
                   now: dt.datetime) -> int:
    """Store the keyed hash of each address given (by channel); returns how many were indexed.

    An address the hasher refuses (not an e-mail address, not an international phone number)
    is left out, and so is a channel without an address: a profile event that does not carry it
    keeps the earlier hash, as the profile keeps the earlier address.
    """
    table = CustomerContactRecord.__table__
    indexed = 0
    for channel, address in addresses.items():
        if not address:
            continue
        try:
            hashed = hasher(channel, address)
        except ValueError:
            continue
        stmt = dialect_insert(session, table).values(customer_id=customer_id, channel=channel, contact_hash=hashed,
                                                     updated_at=now)
        session.execute(stmt.on_conflict_do_update(index_elements=["customer_id", "channel"],
                                                   set_={"contact_hash": hashed, "updated_at": now}))
        indexed += 1
    return indexed


def profile_addresses(values: dict[str, Any]) -> dict[str, str | None]:
    """The addresses (by channel) among a profile's column values."""
    return {channel: values.get(column) for channel, column in CONTACT_COLUMNS.items()}


def index_all_contacts(*, session: Session, hasher: ContactHasher, now: dt.datetime, batch: int = 1000) -> int:
    """Index every stored customer's addresses (for profiles stored before the index existed); returns the count."""
    indexed, last = 0, ""
    while True:
        rows = list(session.execute(
            select(CustomerRecord.customer_id, CustomerRecord.email, CustomerRecord.phone)
            .where(CustomerRecord.customer_id > last).order_by(CustomerRecord.customer_id).limit(batch)))
        if not rows:
            return indexed
        for customer_id, email, phone in rows:
            indexed += index_contacts(session=session, customer_id=customer_id, hasher=hasher, now=now,
                                      addresses={"email": email, "sms": phone})
        last = rows[-1][0]
