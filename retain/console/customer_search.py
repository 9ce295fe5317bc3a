"""Finding people in the console: by id prefix, by e-mail address or phone number, and lists by what happened.

An address is matched through its keyed hash (``outreach.consent.contact_points``): the query is
normalised and hashed, then looked up in the hashes kept with the profile (``customer_contacts``)
and with the outbox's contact points. The address itself is never stored, logged or echoed in an
error, and the pages send it in a POST body, never in a URL.

>>> classify("  Ada@Example.COM ").kind, classify("+49 151 1234 5678").value, classify("c-10").kind
('email', '+4915112345678', 'id')
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select, union
from sqlmodel import Session

from outreach.consent.contact_points import InvalidContactPoint, contact_hash, normalise_email, normalise_phone
from outreach.consent.records import ContactPointRecord
from outreach.outbox.records import OutboxRecord
from signals.records import CustomerContactRecord, CustomerRecord, SignalRecord
from triggers.records import DecisionRecord

MAX_QUERY_CHARS = 254  # the longest e-mail address; ids are at most 128
MAX_RESULTS = 100


class SearchRefused(ValueError):
    """A query that cannot be searched; the message says why (and never repeats the query)."""


@dataclass(frozen=True)
class SearchQuery:
    """A classified query: ``id`` prefix, or a normalised ``email`` address or ``phone`` number (E.164)."""

    kind: Literal["id", "email", "phone"]
    value: str

    def __repr__(self) -> str:  # an address must not reach a log line through a repr
        return f"SearchQuery(kind={self.kind!r}, value=<{len(self.value)} chars>)"

    @property
    def channel(self) -> str:
        """The contact-point channel of an address query."""
        return "email" if self.kind == "email" else "sms"


def classify(text: str) -> SearchQuery:
    """What a search box holds: an e-mail address (has ``@``), a phone number (starts with ``+``), else an id prefix."""
    query = text.strip()
    if not query:
        raise SearchRefused("type a customer id (or its start), an e-mail address or a phone number")
    if len(query) > MAX_QUERY_CHARS:
        raise SearchRefused(f"longer than {MAX_QUERY_CHARS} characters")
    if "@" in query:
        try:
            return SearchQuery("email", normalise_email(query))
        except InvalidContactPoint:
            raise SearchRefused("that is not an e-mail address (name@domain)") from None
    if query.startswith("+"):
        try:
            return SearchQuery("phone", normalise_phone(query))
        except InvalidContactPoint:
            raise SearchRefused("that is not a phone number in international form (+49 151 ...)") from None
    if any(not ch.isprintable() for ch in query) or len(query) > 128:
        raise SearchRefused("a customer id is at most 128 printable characters")
    return SearchQuery("id", query)


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def find_customers(*, session: Session, query: SearchQuery, key: bytes, limit: int = 50) -> list[str]:
    """Customer ids matching the query: exact id first then by prefix, or every holder of the address."""
    if query.kind == "id":
        pattern = _like_prefix(query.value)
        ids = union(select(CustomerRecord.customer_id).where(CustomerRecord.customer_id.like(pattern, escape="\\")),
                    select(SignalRecord.customer_id).where(SignalRecord.customer_id.like(pattern, escape="\\")))
        found = sorted(session.scalars(select(ids.subquery().c[0]).limit(limit * 2)))
        return sorted(found, key=lambda cid: (cid != query.value, cid))[:limit]
    hashed = contact_hash(key, query.channel, query.value)
    profile = session.scalars(select(CustomerContactRecord.customer_id).where(
        CustomerContactRecord.contact_hash == hashed, CustomerContactRecord.channel == query.channel))
    # Contact points the sender registered; an erased one keeps its hash (for suppressions) but not its address.
    sent = session.scalars(select(ContactPointRecord.customer_id).where(
        ContactPointRecord.contact_hash == hashed, ContactPointRecord.channel == query.channel,
        ContactPointRecord.address.is_not(None)))
    return sorted(set(profile) | set(sent))[:limit]


def summaries(*, session: Session, customer_ids: list[str]) -> list[dict[str, Any]]:
    """One row per customer: profile facts (no contact details), the latest signal, decision and message."""
    rows = []
    for customer_id in customer_ids:
        customer = session.get(CustomerRecord, customer_id)
        signal = session.scalars(select(SignalRecord).where(SignalRecord.customer_id == customer_id)
                                 .order_by(SignalRecord.detected_at.desc()).limit(1)).first()
        decision = session.scalars(select(DecisionRecord).where(DecisionRecord.customer_id == customer_id)
                                   .order_by(DecisionRecord.decided_at.desc()).limit(1)).first()
        messages = session.scalar(select(func.count()).select_from(OutboxRecord)
                                  .where(OutboxRecord.customer_id == customer_id)) or 0
        rows.append({
            "customer_id": customer_id, "known": customer is not None,
            "first_name": customer.first_name if customer else None, "locale": customer.locale if customer else None,
            "country": customer.country if customer else None,
            "last_event_at": customer.last_event_at.isoformat() if customer else None,
            "last_signal": {"kind": signal.kind, "reason": signal.reason,
                            "detected_at": signal.detected_at.isoformat()} if signal else None,
            "last_decision": {"rule_id": decision.rule_id, "outcome": decision.outcome, "reason": decision.reason,
                              "decided_at": decision.decided_at.isoformat()} if decision else None,
            "messages": messages,
        })
    return rows


def customer_list(*, session: Session, now: dt.datetime, signal: str | None = None, outcome: str | None = None,
                  rule: str | None = None, days: int = 30, limit: int = MAX_RESULTS) -> list[str]:
    """Customers with a decision in the last ``days`` that matches every filter given, most recent first."""
    since = now - dt.timedelta(days=days)
    latest = func.max(DecisionRecord.decided_at)
    query = select(DecisionRecord.customer_id, latest).where(DecisionRecord.decided_at > since)
    for column, value in ((DecisionRecord.signal_kind, signal), (DecisionRecord.outcome, outcome),
                          (DecisionRecord.rule_id, rule)):
        if value:
            query = query.where(column == value)
    query = query.group_by(DecisionRecord.customer_id).order_by(latest.desc(), DecisionRecord.customer_id)
    rows = session.execute(query.limit(limit))
    return [row[0] for row in rows]
