"""What drafting reads from the database: the recipient's contact details, and old decisions' snapshots.

Contact details are read when a message is drafted (or a reviewer's edit is checked): they never
reach a drafter, the personal-data guardrail uses them to catch a leak, so the current ones count.
Everything else a draft says comes from the decision's ``snapshot``; only a decision stored before
decisions carried one (migration 0011) is given one from the stored signal and customer rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from outreach.drafting.brief import PrivateFacts
from signals.records import CustomerRecord, SignalRecord
from signals.service import signal_from_record
from triggers.decision import Decision, DecisionSnapshot


class NothingToDraftFrom(ValueError):
    """An old decision without a snapshot whose signal is not stored either."""


def contact_details(*, session: Session, customer_id: str) -> PrivateFacts | None:
    """The customer's contact details as stored now, or None for an unknown customer."""
    return private_facts(session.get(CustomerRecord, customer_id))


def private_facts(customer: Any) -> PrivateFacts | None:
    """The contact details of a customer row already read (the record or a plain row), or None without one."""
    if customer is None:
        return None
    return PrivateFacts(last_name=customer.last_name, email=customer.email, phone=customer.phone)


def with_snapshot(*, session: Session, decision: Decision) -> Decision:
    """``decision`` itself when it carries a snapshot; an older one with a snapshot from the stored rows.

    Raises ``NothingToDraftFrom`` when the signal row is missing: no message is better than one
    without its facts.
    """
    if decision.snapshot is not None:
        return decision
    signal = session.get(SignalRecord, decision.signal_id)
    customer = session.get(CustomerRecord, decision.customer_id) if signal is not None else None
    return snapshot_from(decision, signal, customer.model_dump() if customer is not None else None)


def snapshot_from(decision: Decision, signal: SignalRecord | None, customer: Mapping[str, Any] | None) -> Decision:
    """``with_snapshot`` over what was already read: the signal and the customer's columns of an old decision."""
    if decision.snapshot is not None:
        return decision
    if signal is None:
        raise NothingToDraftFrom(f"decision {decision.decision_id} carries no snapshot and its signal is not stored")
    return decision.model_copy(update={"snapshot": DecisionSnapshot.of(signal_from_record(signal), customer or {})})
